package dev.dedupe.server.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class LogTailTest {

  private static byte[] bytes(int n) {
    return new byte[n];
  }

  @Test
  void keepsTheNewestEntriesWithinItsBudget() {
    LogTail tail = new LogTail(100, 5);
    for (long seq = 5; seq < 15; seq++) {
      tail.add(seq, bytes(30));
    }
    // 10 entries of 30 bytes in a budget of 100: the newest 3 stay.
    assertEquals(12, tail.firstSeq());
    assertEquals(15, tail.nextSeq());
    assertEquals(3, tail.from(12, Long.MAX_VALUE).size());
    assertThrows(IllegalArgumentException.class, () -> tail.from(11, 100));
  }

  @Test
  void handsOutAtLeastOneEntryAndAtMostAboutTheBytesAsked() {
    LogTail tail = new LogTail(1_000, 1);
    tail.add(1, bytes(50));
    tail.add(2, bytes(50));
    tail.add(3, bytes(50));
    assertEquals(1, tail.from(1, 10).size());
    assertEquals(2, tail.from(1, 100).size());
    assertEquals(List.of(), tail.from(4, 100));
  }

  @Test
  void aPinKeepsEntriesAFollowerWillNeedUpToFourTimesTheBudget() {
    LogTail tail = new LogTail(100, 1);
    tail.pin(2);
    for (long seq = 1; seq <= 12; seq++) {
      tail.add(seq, bytes(30));
    }
    // Pinned from 2: entries 2.. stay while they fit in 400 bytes (13 entries would not).
    assertEquals(2, tail.firstSeq());
    for (long seq = 13; seq <= 20; seq++) {
      tail.add(seq, bytes(30));
    }
    // Past the hard cap the pin gives way.
    assertEquals(true, tail.firstSeq() > 2);
    tail.unpin(2);
    assertEquals(18, tail.firstSeq());
  }

  @Test
  void refusesAGapInSequence() {
    LogTail tail = new LogTail(100, 1);
    tail.add(1, bytes(1));
    assertThrows(IllegalStateException.class, () -> tail.add(3, bytes(1)));
  }
}
