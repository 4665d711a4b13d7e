package dev.dedupe.server.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A leader's commit and in-sync rules ({@link LeaderProgress}): what it acknowledges, when, and
 * which followers it proposes to drop or add. Leader "a" with followers "b" and "c"; each node's
 * store is "s" + its name. Times are plain nanosecond values.
 */
class LeaderProgressTest {

  private static final long EPOCH = 5;
  /** The new leader's first entry; entries 1..10 are of earlier epochs. */
  private static final long BARRIER = 11;
  private static final long LAG_MAX = 1_000;

  private static LeaderProgress leader(int minInSync, Map<String, String> inSync) {
    return new LeaderProgress("a", EPOCH, minInSync, List.of("b", "c"), inSync, BARRIER, 0);
  }

  /** Appends entries up to {@code last} at time {@code now}. */
  private static void appendTo(LeaderProgress p, long last, long now) {
    for (long seq = p.logEnd() + 1; seq <= last; seq++) {
      p.appended(seq, now);
    }
  }

  // ------------------------------------------------------- replicas changed within an epoch

  @Test
  void aReplicaAddedWithinTheEpochIsFollowedAndJoinsOnceCaughtUp() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb", "c", "sc"));
    appendTo(p, 20, 0);
    p.acknowledged("b", "sb", 20, 1);
    p.acknowledged("c", "sc", 20, 1);
    assertEquals(20, p.advance(true));
    // Before: a replica the leader did not start with was not followed at all, so its
    // acknowledgements were dropped and it could never join (a move's target waited forever).
    p.followersChanged(List.of("b", "c", "d"), 2);
    assertEquals(Optional.empty(), p.readyToJoin(), "it has acknowledged nothing yet");
    p.acknowledged("d", "sd", 20, 3); // installed a snapshot at 20
    assertEquals(20, p.acked("d"));
    assertEquals(Optional.of(Map.entry("d", "sd")), p.readyToJoin());
  }

  @Test
  void aReplicaRemovedWithinTheEpochIsNoLongerCounted() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb", "c", "sc"));
    appendTo(p, 20, 0);
    p.followersChanged(List.of("b"), 1);
    p.inSyncChanged(Map.of("a", "sa", "b", "sb"));
    p.acknowledged("c", "sc", 20, 2);
    assertEquals(-1, p.acked("c"), "a late answer of a removed replica is ignored");
    p.acknowledged("b", "sb", 20, 2);
    assertEquals(20, p.advance(true));
  }

  // ------------------------------------------------------------ a follower with a lost disk

  @Test
  void aFollowerBackWithAnotherStoreHasAcknowledgedNothingInIt() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    appendTo(p, 15, 0);
    p.acknowledged("b", "sb", 15, 1);
    assertEquals(15, p.advance(true));

    // b's disk was lost: it answers from an empty store (a MISMATCH carries seq -1).
    p.acknowledged("b", "sb-new", -1, 2);
    assertEquals(-1, p.acked("b"), "what the lost store had acknowledged is not in the new one");
    assertEquals(List.of("b"), p.laggingMembers(2, LAG_MAX), "leaves the in-sync set at once");
    appendTo(p, 16, 3);
    assertEquals(15, p.advance(true), "the new store does not vouch for the in-sync one");

    // The leader drops it. The new store holds nothing: it must not rejoin on the old store's
    // acknowledgements, else it would count as holding entries it never received.
    p.inSyncChanged(Map.of("a", "sa"));
    assertEquals(Optional.empty(), p.readyToJoin());

    // It catches up part of the way (a resend): its acknowledged position is the new store's.
    p.acknowledged("b", "sb-new", 12, 4);
    assertEquals(12, p.acked("b"));
    assertEquals(Optional.empty(), p.readyToJoin(), "behind the commit index");
    p.acknowledged("b", "sb-new", 16, 5);
    assertEquals(Optional.of(Map.entry("b", "sb-new")), p.readyToJoin());
  }

  @Test
  void aFollowerOutOfSyncThatLostItsDiskCannotJoinOnItsOldStoresAcknowledgements() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    appendTo(p, 20, 0);
    p.acknowledged("b", "sb", 20, 1);
    p.acknowledged("c", "sc", 20, 1);
    assertEquals(20, p.advance(true));
    // c caught up and may join, but before the leader's next pass its disk is lost.
    assertEquals(Optional.of(Map.entry("c", "sc")), p.readyToJoin());
    p.acknowledged("c", "sc-new", -1, 2);
    // Joining now would make an empty store electable: a failover to it loses acknowledged ids.
    assertEquals(Optional.empty(), p.readyToJoin());
    // Rebuilt from a snapshot at 20 into that store, it joins with it, and from then on only
    // that store's acknowledgements count.
    p.acknowledged("c", "sc-new", 20, 3);
    assertEquals(Optional.of(Map.entry("c", "sc-new")), p.readyToJoin());
    p.inSyncChanged(Map.of("a", "sa", "b", "sb", "c", "sc-new"));
    appendTo(p, 22, 4);
    p.acknowledged("b", "sb", 22, 5);
    assertEquals(20, p.advance(true));
    p.acknowledged("c", "sc-new", 22, 5);
    assertEquals(22, p.advance(true));
  }

  // ------------------------------------------------------------------------ the commit rule

  @Test
  void anEntryCommitsWhenEveryInSyncMemberHasIt() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb", "c", "sc"));
    assertEquals(BARRIER - 1, p.commitIndex(), "nothing of this epoch is committed at first");
    appendTo(p, 15, 0);
    p.acknowledged("b", "sb", 15, 1);
    assertEquals(BARRIER - 1, p.advance(true), "c has not acknowledged");
    p.acknowledged("c", "sc", 13, 1);
    assertEquals(13, p.advance(true), "the slowest in-sync member sets the commit index");
    p.acknowledged("c", "sc", 15, 2);
    assertEquals(15, p.advance(true));
    assertEquals(15, p.commitIndex());
  }

  @Test
  void aFollowerOutsideTheInSyncSetHoldsNothingBack() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    appendTo(p, 15, 0);
    p.acknowledged("b", "sb", 15, 1);
    assertEquals(15, p.advance(true), "c, not in sync, is not waited for");
  }

  @Test
  void anAcknowledgementFromAnotherStoreThanTheInSyncOneDoesNotCount() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    appendTo(p, 15, 0);
    p.acknowledged("b", "other", 15, 1);
    assertEquals(BARRIER - 1, p.advance(true));
  }

  @Test
  void fewerInSyncMembersThanTheMinimumCommitNothing() {
    LeaderProgress p = leader(2, Map.of("a", "sa"));
    appendTo(p, 15, 0);
    p.acknowledged("b", "sb", 15, 1);
    assertEquals(BARRIER - 1, p.advance(true), "in sync alone, minimum 2: even with its lease");
    p.inSyncChanged(Map.of("a", "sa", "b", "sb"));
    assertEquals(15, p.advance(true), "b's acknowledgements count once ZooKeeper has it in sync");
  }

  @Test
  void aLeaderThatIsNotInItsOwnInSyncSetCommitsNothing() {
    LeaderProgress p = leader(1, Map.of("b", "sb"));
    appendTo(p, 12, 0);
    p.acknowledged("b", "sb", 12, 1);
    assertEquals(BARRIER - 1, p.advance(true));
  }

  @Test
  void aLeaderInSyncAloneCommitsOnlyWhileItsSessionLeaseHolds() {
    LeaderProgress p = leader(1, Map.of("a", "sa"));
    appendTo(p, 12, 0);
    assertEquals(BARRIER - 1, p.advance(false), "no follower vouches and the lease is out");
    assertEquals(12, p.advance(true));
    appendTo(p, 13, 1);
    assertEquals(12, p.advance(false));
  }

  @Test
  void withAFollowerInSyncTheLeaseDoesNotMatter() {
    // The in-sync follower is the fence: it refuses this epoch once it learns a newer one.
    LeaderProgress p = leader(1, Map.of("a", "sa", "b", "sb"));
    appendTo(p, 12, 0);
    p.acknowledged("b", "sb", 12, 1);
    assertEquals(12, p.advance(false));
  }

  @Test
  void theCommitIndexNeverGoesBack() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    appendTo(p, 15, 0);
    p.acknowledged("b", "sb", 15, 1);
    assertEquals(15, p.advance(true));
    // A member behind joins (say the controller wrote it): what was committed stays committed.
    p.acknowledged("c", "sc", 12, 2);
    p.inSyncChanged(Map.of("a", "sa", "b", "sb", "c", "sc"));
    assertEquals(15, p.advance(true));
    appendTo(p, 16, 3);
    p.acknowledged("b", "sb", 16, 4);
    assertEquals(15, p.advance(true), "16 waits for c");
  }

  @Test
  void anAcknowledgementBeyondTheLogEndCountsOnlyUpToIt() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    appendTo(p, 12, 0);
    p.acknowledged("b", "sb", 99, 1);
    assertEquals(12, p.acked("b"));
    assertEquals(12, p.advance(true));
    appendTo(p, 13, 2);
    assertEquals(12, p.advance(true), "entry 13 was never acknowledged");
  }

  @Test
  void acknowledgementsOfOneStoreOnlyGoForward() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    appendTo(p, 15, 0);
    p.acknowledged("b", "sb", 15, 1);
    p.acknowledged("b", "sb", -1, 2); // a MISMATCH from the same store acknowledges no entry
    assertEquals(15, p.acked("b"));
    p.acknowledged("b", "sb", 13, 3);
    assertEquals(15, p.acked("b"));
  }

  // ------------------------------------------------------------------------- epoch start

  @Test
  void nothingCommitsBeforeEveryInSyncMemberHasThisEpochsFirstEntry() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    assertEquals(BARRIER, p.logEnd(), "the barrier is written before the progress starts");
    appendTo(p, 13, 0);
    // b holds everything of the old epochs but not yet the barrier: it has not accepted this
    // epoch, so it could still take the old leader's entries.
    p.acknowledged("b", "sb", BARRIER - 1, 1);
    assertEquals(BARRIER - 1, p.advance(true));
    p.acknowledged("b", "sb", BARRIER, 2);
    assertEquals(BARRIER, p.advance(true));
  }

  @Test
  void entriesAreAppendedInOrderAfterTheBarrier() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    assertThrows(IllegalStateException.class, () -> p.appended(BARRIER + 2, 0));
    assertThrows(IllegalStateException.class, () -> p.appended(BARRIER, 0));
    p.appended(BARRIER + 1, 0);
    assertEquals(BARRIER + 1, p.logEnd());
  }

  // --------------------------------------------------------------------- the in-sync set

  @Test
  void aMemberIsLaggingOnlyAfterBeingBehindForLongerThanTheMaximum() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb", "c", "sc"));
    p.acknowledged("b", "sb", BARRIER, 10);
    p.acknowledged("c", "sc", BARRIER, 10);
    appendTo(p, BARRIER + 1, 100); // both fall behind at 100
    p.acknowledged("b", "sb", BARRIER + 1, 150);
    assertEquals(List.of(), p.laggingMembers(100 + LAG_MAX, LAG_MAX));
    assertEquals(List.of("c"), p.laggingMembers(101 + LAG_MAX, LAG_MAX));
    // b stays caught up however long the shard is idle.
    assertEquals(List.of("c"), p.laggingMembers(1_000_000, LAG_MAX));
  }

  @Test
  void aMemberThatNeverAnsweredLagsFromTheLeadershipsStart() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    assertEquals(List.of(), p.laggingMembers(LAG_MAX, LAG_MAX));
    assertEquals(List.of("b"), p.laggingMembers(LAG_MAX + 1, LAG_MAX));
  }

  @Test
  void onlyInSyncFollowersAreEverProposedForDropping() {
    LeaderProgress p = leader(1, Map.of("a", "sa"));
    appendTo(p, 15, 0);
    assertEquals(List.of(), p.laggingMembers(100 * LAG_MAX, LAG_MAX),
        "neither the leader nor a follower out of sync");
  }

  @Test
  void aMemberThatKeepsUpUnderSteadyWritesIsNotLagging() {
    // Entries every 100 ns; each acknowledgement comes 100 ns after its append was sent, when
    // the leader has one more entry. The member is one round trip behind, never longer.
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    long now = 0;
    for (int i = 0; i < 100; i++) {
      long sentUpTo = p.logEnd();
      now += 100;
      p.appended(p.logEnd() + 1, now);
      p.acknowledged("b", "sb", sentUpTo, now);
      assertEquals(List.of(), p.laggingMembers(now, LAG_MAX), "at " + now);
    }
    assertEquals(p.logEnd() - 1, p.advance(true));
  }

  @Test
  void aMemberThatFallsFurtherBehindUnderSteadyWritesLags() {
    // Two entries per round trip, one acknowledged: it never has what the leader had at its
    // previous answer, so it has been behind since the leadership began.
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    long now = 0;
    long acked = BARRIER - 1;
    while (now <= LAG_MAX) {
      now += 100;
      p.appended(p.logEnd() + 1, now);
      p.appended(p.logEnd() + 1, now);
      acked++;
      p.acknowledged("b", "sb", acked, now);
    }
    assertEquals(List.of("b"), p.laggingMembers(now, LAG_MAX));
  }

  @Test
  void readyToJoinNeedsTheBarrierAndEverythingCommitted() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    assertEquals(Optional.empty(), p.readyToJoin(), "c never answered: no store to record");
    p.acknowledged("c", "sc", BARRIER - 1, 1);
    assertEquals(Optional.empty(), p.readyToJoin(), "c has not accepted this epoch");
    appendTo(p, 15, 2);
    p.acknowledged("b", "sb", 15, 3);
    assertEquals(15, p.advance(true));
    p.acknowledged("c", "sc", 14, 4);
    assertEquals(Optional.empty(), p.readyToJoin(), "c lacks committed entry 15");
    p.acknowledged("c", "sc", 15, 5);
    assertEquals(Optional.of(Map.entry("c", "sc")), p.readyToJoin());
    p.inSyncChanged(Map.of("a", "sa", "b", "sb", "c", "sc"));
    assertEquals(Optional.empty(), p.readyToJoin(), "already in sync");
    assertTrue(p.inSync().containsKey("c"));
  }

  @Test
  void aMemberThatLeftRejoinsOnlyAfterItAnswersAgain() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb", "c", "sc"));
    appendTo(p, 12, 0);
    p.acknowledged("b", "sb", 12, 1);
    p.acknowledged("c", "sc", 12, 1);
    assertEquals(12, p.advance(true));
    // c's node stops and the controller removes it from the in-sync set. The shard is idle, so
    // c's last acknowledgement still covers everything committed; but c is not there, and
    // back in the set it would hold every commit until it is dropped again.
    p.inSyncChanged(Map.of("a", "sa", "b", "sb"));
    assertEquals(Optional.empty(), p.readyToJoin(), "not re-added on what it said before");
    p.acknowledged("c", "sc", 12, 2); // it is back and answers
    assertEquals(Optional.of(Map.entry("c", "sc")), p.readyToJoin());
  }

  @Test
  void anAcknowledgementFromANodeThatIsNoReplicaIsIgnored() {
    LeaderProgress p = leader(2, Map.of("a", "sa", "b", "sb"));
    appendTo(p, 12, 0);
    p.acknowledged("z", "sz", 12, 1);
    assertEquals(-1, p.acked("z"));
    assertEquals(Optional.empty(), p.readyToJoin());
  }
}
