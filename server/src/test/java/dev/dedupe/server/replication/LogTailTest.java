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
  void handsOutTheEntriesOfTheSeqsAskedAfterManyHaveBeenDropped() {
    // Long enough for the dropped entries' slots to be released several times over.
    LogTail tail = new LogTail(8 * 500, 1);
    for (long seq = 1; seq <= 20_000; seq++) {
      tail.add(seq, java.nio.ByteBuffer.allocate(8).putLong(seq).array());
      if (seq % 997 == 0) {
        long from = Math.max(tail.firstSeq(), seq - 3);
        List<byte[]> got = tail.from(from, 16);
        assertEquals(2, got.size());
        assertEquals(from, java.nio.ByteBuffer.wrap(got.get(0)).getLong());
        assertEquals(from + 1, java.nio.ByteBuffer.wrap(got.get(1)).getLong());
      }
    }
    assertEquals(20_000 - 500 + 1, tail.firstSeq());
    List<byte[]> all = tail.from(tail.firstSeq(), Long.MAX_VALUE);
    assertEquals(500, all.size());
    assertEquals(20_000, java.nio.ByteBuffer.wrap(all.get(499)).getLong());
  }

  @Test
  void refusesAGapInSequence() {
    LogTail tail = new LogTail(100, 1);
    tail.add(1, bytes(1));
    assertThrows(IllegalStateException.class, () -> tail.add(3, bytes(1)));
  }
}
