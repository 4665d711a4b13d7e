package dev.dedupe.server.replication;

import static dev.dedupe.server.replication.FollowerGate.Outcome.APPLY;
import static dev.dedupe.server.replication.FollowerGate.Outcome.MISMATCH;
import static dev.dedupe.server.replication.FollowerGate.Outcome.NOT_FOLLOWING;
import static dev.dedupe.server.replication.FollowerGate.Outcome.STALE_EPOCH;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.dedupe.server.storage.LogPosition;
import org.junit.jupiter.api.Test;

/**
 * A follower's rule for appends ({@link FollowerGate}): the epoch fence that stops a deposed
 * leader, and the previous-position check that keeps the follower's log a prefix of its
 * leader's.
 */
class FollowerGateTest {

  private static final LogPosition AT = new LogPosition(4, 20);

  private static FollowerGate following(long epoch) {
    FollowerGate gate = new FollowerGate(AT);
    gate.learned(epoch, false);
    return gate;
  }

  @Test
  void beforeItHasReadTheShardsStateItAppliesNothing() {
    FollowerGate gate = new FollowerGate(AT);
    assertEquals(NOT_FOLLOWING, gate.offer(5, AT));
    assertEquals(-1, gate.knownEpoch(), "an append does not make it follow");
  }

  @Test
  void anAppendOfTheKnownEpochRightAfterItsLastEntryApplies() {
    assertEquals(APPLY, following(5).offer(5, AT));
  }

  @Test
  void anAppendThatDoesNotFollowItsLastEntryIsAMismatch() {
    FollowerGate gate = following(5);
    assertEquals(MISMATCH, gate.offer(5, new LogPosition(4, 19)), "behind: the leader resends");
    assertEquals(MISMATCH, gate.offer(5, new LogPosition(4, 21)), "a gap");
    assertEquals(MISMATCH, gate.offer(5, new LogPosition(3, 20)),
        "same seq, another epoch: another entry, whatever the seq");
    assertEquals(AT, gate.position(), "a refused append changes nothing");
  }

  @Test
  void anOlderEpochIsStale() {
    FollowerGate gate = following(5);
    assertEquals(STALE_EPOCH, gate.offer(4, AT), "even one that matches the position");
    assertEquals(5, gate.knownEpoch());
  }

  @Test
  void aNewerEpochIsLearnedFromTheAppendAndFencesTheOlderLeaderAtOnce() {
    FollowerGate gate = following(5);
    assertEquals(APPLY, gate.offer(6, AT));
    assertEquals(6, gate.knownEpoch());
    assertEquals(STALE_EPOCH, gate.offer(5, AT), "the leader of 5 is deposed from now on");
  }

  @Test
  void aNewerEpochFencesTheOlderLeaderEvenWhenItsAppendDoesNotMatch() {
    // The new leader's first append usually mismatches (it probes); the old leader must be
    // refused from that moment, not only once the follower has caught up.
    FollowerGate gate = following(5);
    assertEquals(MISMATCH, gate.offer(6, new LogPosition(5, 30)));
    assertEquals(STALE_EPOCH, gate.offer(5, AT));
  }

  @Test
  void appliedEntriesMoveThePositionTheNextAppendMustFollow() {
    FollowerGate gate = following(5);
    assertEquals(APPLY, gate.offer(5, AT));
    LogPosition last = new LogPosition(5, 23);
    gate.applied(last);
    assertEquals(last, gate.position());
    assertEquals(MISMATCH, gate.offer(5, AT), "a repeat of the same append");
    assertEquals(APPLY, gate.offer(5, last));
  }

  @Test
  void aRebuiltCopyFollowsFromTheSnapshotsPosition() {
    FollowerGate gate = following(5);
    LogPosition snapshot = new LogPosition(5, 90);
    gate.rebuilt(snapshot);
    assertEquals(MISMATCH, gate.offer(5, AT));
    assertEquals(APPLY, gate.offer(5, snapshot));
  }

  @Test
  void whileItLeadsItAppliesNoAppend() {
    FollowerGate gate = new FollowerGate(AT);
    gate.learned(5, true);
    assertEquals(NOT_FOLLOWING, gate.offer(5, AT), "no other leader of its own epoch");
    assertEquals(NOT_FOLLOWING, gate.offer(6, AT),
        "deposed: it learns that from ZooKeeper before it follows");
    assertEquals(5, gate.knownEpoch());
    assertEquals(STALE_EPOCH, gate.offer(4, AT));
  }

  @Test
  void onceZooKeeperSaysAnotherNodeLeadsItFollows() {
    FollowerGate gate = new FollowerGate(AT);
    gate.learned(5, true);
    gate.learned(6, false);
    assertEquals(APPLY, gate.offer(6, AT));
  }

  @Test
  void anOlderReadOfTheStateIsIgnored() {
    FollowerGate gate = following(6);
    gate.learned(5, true); // a stale read arriving late
    assertEquals(6, gate.knownEpoch());
    assertEquals(APPLY, gate.offer(6, AT), "still following at 6");
    assertEquals(STALE_EPOCH, gate.offer(5, AT));
  }
}
