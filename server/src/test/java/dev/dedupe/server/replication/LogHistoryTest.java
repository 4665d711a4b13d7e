package dev.dedupe.server.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.replication.LogHistory.CatchUp;
import dev.dedupe.server.storage.EpochStart;
import dev.dedupe.server.storage.LogPosition;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A log as its epochs and end ({@link LogHistory}): which positions it holds, and how a leader
 * brings a follower back in line, by resending its tail or rebuilding the follower's copy.
 */
class LogHistoryTest {

  /** Entries 1-4 at epoch 1, 5-8 at epoch 3 (epoch 2's leader wrote nothing that stayed). */
  private static final LogHistory LEADER = new LogHistory(
      List.of(new EpochStart(1, 1), new EpochStart(3, 5)), new LogPosition(3, 8));

  private static LogPosition at(long epoch, long seq) {
    return new LogPosition(epoch, seq);
  }

  @Test
  void holdsExactlyTheEntriesOfItsEpochs() {
    for (long seq = 1; seq <= 4; seq++) {
      assertTrue(LEADER.holds(at(1, seq)), "entry " + seq);
    }
    for (long seq = 5; seq <= 8; seq++) {
      assertTrue(LEADER.holds(at(3, seq)), "entry " + seq);
    }
    assertFalse(LEADER.holds(at(1, 5)), "epoch 1 ended at 4 in this log");
    assertFalse(LEADER.holds(at(3, 4)), "epoch 3 began at 5");
    assertFalse(LEADER.holds(at(3, 9)), "past the end");
    assertFalse(LEADER.holds(at(2, 5)), "an epoch this log has no entry of");
    assertFalse(LEADER.holds(at(4, 8)), "a later epoch");
  }

  @Test
  void theEmptyPositionIsInEveryLog() {
    assertTrue(LEADER.holds(LogPosition.EMPTY));
    assertTrue(LogHistory.EMPTY.holds(LogPosition.EMPTY));
    assertFalse(LogHistory.EMPTY.holds(at(1, 1)));
  }

  @Test
  void positionOfNamesTheEpochThatWroteTheEntry() {
    assertEquals(LogPosition.EMPTY, LEADER.positionOf(0));
    assertEquals(at(1, 1), LEADER.positionOf(1));
    assertEquals(at(1, 4), LEADER.positionOf(4));
    assertEquals(at(3, 5), LEADER.positionOf(5));
    assertEquals(at(3, 8), LEADER.positionOf(8));
    assertThrows(IllegalArgumentException.class, () -> LEADER.positionOf(9));
    assertThrows(IllegalArgumentException.class, () -> LEADER.positionOf(-1));
  }

  @Test
  void positionOfRefusesEntriesBeforeTheLogsFirstEpoch() {
    // A copy rebuilt from a snapshot knows its history from the snapshot's epoch on.
    LogHistory rebuilt = new LogHistory(List.of(new EpochStart(3, 5)), at(3, 8));
    assertEquals(at(3, 6), rebuilt.positionOf(6));
    assertThrows(IllegalArgumentException.class, () -> rebuilt.positionOf(3));
  }

  @Test
  void appendingExtendsTheEpochOrStartsANewOne() {
    LogHistory same = LEADER.append(3);
    assertEquals(at(3, 9), same.end());
    assertEquals(LEADER.epochs(), same.epochs());
    LogHistory next = same.append(5);
    assertEquals(at(5, 10), next.end());
    assertEquals(new EpochStart(5, 10), next.epochs().get(2));
    assertTrue(next.holds(at(3, 9)));
    assertThrows(IllegalArgumentException.class, () -> next.append(4), "epochs never go back");
    LogHistory first = LogHistory.EMPTY.append(1);
    assertEquals(List.of(new EpochStart(1, 1)), first.epochs());
    assertEquals(at(1, 1), first.end());
  }

  @Test
  void aFollowerBehindWithinTheTailGetsTheEntriesAfterItsPosition() {
    assertEquals(new CatchUp.Resend(7), LEADER.planFor(at(3, 6), 5));
    assertEquals(new CatchUp.Resend(5), LEADER.planFor(at(1, 4), 5),
        "the entry just before the tail is enough");
    assertEquals(new CatchUp.Resend(1), LEADER.planFor(LogPosition.EMPTY, 1),
        "an empty follower, with the whole log in the tail");
  }

  @Test
  void aFollowerAtTheEndGetsNothingMore() {
    assertEquals(new CatchUp.Resend(9), LEADER.planFor(at(3, 8), 8));
    assertEquals(new CatchUp.Resend(9), LEADER.planFor(at(3, 8), 100),
        "even when the tail holds nothing");
  }

  @Test
  void aFollowerBehindTheTailIsRebuilt() {
    assertInstanceOf(CatchUp.Rebuild.class, LEADER.planFor(at(1, 2), 5));
    assertInstanceOf(CatchUp.Rebuild.class, LEADER.planFor(LogPosition.EMPTY, 5));
  }

  @Test
  void aFollowerHoldingEntriesOfAnEpochTheLeaderNeverHadIsRebuilt() {
    // It applied entries 5 and 6 from the leader of epoch 2, which were never committed; the
    // leader of epoch 3 wrote other entries at 5 and 6. Resending from 7 would leave the
    // follower with another history than its leader's: it is replaced.
    CatchUp plan = LEADER.planFor(at(2, 6), 1);
    assertInstanceOf(CatchUp.Rebuild.class, plan);
    assertTrue(((CatchUp.Rebuild) plan).why().contains("does not have"), plan.toString());
  }

  @Test
  void aFollowerWithMoreEntriesOfAnOldEpochThanTheLeaderKeptIsRebuilt() {
    // The old leader of epoch 1 wrote 5 and 6 too; the leader kept epoch 1 only up to 4.
    assertInstanceOf(CatchUp.Rebuild.class, LEADER.planFor(at(1, 6), 1));
  }
}
