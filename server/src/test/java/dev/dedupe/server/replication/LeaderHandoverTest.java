package dev.dedupe.server.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The handover's rules: who may receive a leadership, the state written, and the pause. */
class LeaderHandoverTest {

  private static final List<String> NODES = List.of("a", "b", "c");
  private static final Map<String, String> ALL_IN_SYNC = Map.of("a", "sa", "b", "sb", "c", "sc");
  private static final long LEASE = 1_000;

  private static ShardState led(String leader, Map<String, String> isr) {
    return new ShardState(7, NODES, leader, 4, isr);
  }

  @Test
  void onlyALiveInSyncReplicaWithItsStoreThatIsNotStoppingMayReceive() {
    ShardState s = led("a", Map.of("a", "sa", "b", "sb"));
    assertEquals(Optional.empty(), LeaderHandover.refusal(s, "b", ALL_IN_SYNC, Set.of()));
    assertTrue(LeaderHandover.refusal(s, "c", ALL_IN_SYNC, Set.of()).orElseThrow()
        .contains("not in sync"));
    assertTrue(LeaderHandover.refusal(s, "a", ALL_IN_SYNC, Set.of()).orElseThrow()
        .contains("already leads"));
    assertTrue(LeaderHandover.refusal(s, "d", ALL_IN_SYNC, Set.of()).orElseThrow()
        .contains("holds no replica"));
    assertTrue(LeaderHandover.refusal(s, "b", Map.of("a", "sa", "b", "new-b"), Set.of())
        .orElseThrow().contains("store"), "b is back with another store");
    assertTrue(LeaderHandover.refusal(s, "b", Map.of("a", "sa"), Set.of()).isPresent(),
        "b is down");
    assertTrue(LeaderHandover.refusal(s, "b", ALL_IN_SYNC, Set.of("b")).orElseThrow()
        .contains("stopping"));
    assertTrue(LeaderHandover.refusal(s, "b", Map.of("b", "sb"), Set.of()).orElseThrow()
        .contains("not live"), "a dead leader is the election's business");
    ShardState leaderless = new ShardState(7, NODES, "", 5, Map.of("a", "sa", "b", "sb"));
    assertTrue(LeaderHandover.refusal(leaderless, "b", ALL_IN_SYNC, Set.of()).isPresent());
  }

  @Test
  void theNewLeaderLeadsAtTheNextEpochAndTheOldOneStaysInSync() {
    ShardState next = LeaderHandover.handedOver(led("a", ALL_IN_SYNC), "c", false);
    assertEquals("c", next.leader());
    assertEquals(5, next.epoch());
    assertEquals(ALL_IN_SYNC, next.isr(), "the old leader holds nothing c lacks: it stays");
    assertEquals(NODES, next.replicas(), "an automatic handover keeps the preferred order");
  }

  @Test
  void anAdminsTransferMakesTheTargetPreferredSoABalanceKeepsIt() {
    ShardState next = LeaderHandover.handedOver(led("a", ALL_IN_SYNC), "c", true);
    assertEquals(List.of("c", "a", "b"), next.replicas());
    assertEquals(Optional.empty(), LeaderHandover.preferredLeader(next, ALL_IN_SYNC, Set.of()),
        "the balance finds nothing to undo");
  }

  @Test
  void aStoppingLeaderHandsToTheFirstEligibleReplicaOrToNoOne() {
    ShardState s = led("a", ALL_IN_SYNC);
    assertEquals(Optional.of("b"),
        LeaderHandover.targetForStoppingLeader(s, ALL_IN_SYNC, Set.of("a")));
    assertEquals(Optional.of("c"),
        LeaderHandover.targetForStoppingLeader(s, ALL_IN_SYNC, Set.of("a", "b")));
    assertEquals(Optional.of("c"), LeaderHandover.targetForStoppingLeader(
        s, Map.of("a", "sa", "c", "sc"), Set.of("a")), "b is down");
    assertEquals(Optional.empty(), LeaderHandover.targetForStoppingLeader(
        led("a", Map.of("a", "sa")), ALL_IN_SYNC, Set.of("a")), "a is in sync alone");
  }

  @Test
  void thePreferredReplicaLeadsAgainOnceItCan() {
    ShardState s = led("b", ALL_IN_SYNC);
    assertEquals(Optional.of("a"), LeaderHandover.preferredLeader(s, ALL_IN_SYNC, Set.of()));
    assertEquals(Optional.empty(), LeaderHandover.preferredLeader(
        led("b", Map.of("b", "sb", "c", "sc")), ALL_IN_SYNC, Set.of()), "a not in sync yet");
    assertEquals(Optional.empty(), LeaderHandover.preferredLeader(s, ALL_IN_SYNC, Set.of("a")),
        "a is stopping");
    assertEquals(Optional.empty(), LeaderHandover.preferredLeader(s, ALL_IN_SYNC, Set.of("b")),
        "b is stopping: its own handover goes first");
    assertEquals(Optional.empty(), LeaderHandover.preferredLeader(led("a", ALL_IN_SYNC),
        ALL_IN_SYNC, Set.of()));
  }

  @Test
  void aPauseIsReadyOnlyOnceDrainedAndTheTargetHasTheWholeLog() {
    LeaderHandover.Pause p = new LeaderHandover.Pause(4, "b", 0, LEASE);
    assertFalse(p.ready(10, 10, 10, true, false, 1), "rounds may still be on their way");
    p.drained();
    assertFalse(p.ready(10, 10, 9, true, false, 1), "b lacks the last entry");
    assertFalse(p.ready(10, 10, 10, false, false, 1), "b left the in-sync set");
    assertFalse(p.ready(10, 10, 10, true, true, 1), "an in-sync write would move the version");
    assertTrue(p.mayChangeInSync(), "a lagging member may still be dropped to let commits on");
    assertTrue(p.ready(10, 8, 10, true, false, 1), "a lagging member does not hold it up");
    assertEquals(LeaderHandover.Phase.READY, p.phase());
    assertFalse(p.mayChangeInSync(), "once answered, the znode version must stay");
    assertTrue(p.ready(11, 0, 0, false, true, 2), "a ready pause answers again");
  }

  @Test
  void theLeaseEndsThePauseOnceAndStartsAgainWhenReady() {
    LeaderHandover.Pause p = new LeaderHandover.Pause(4, "b", 0, LEASE);
    p.drained();
    assertFalse(p.leaseEnded(LEASE - 1));
    assertTrue(p.ready(5, 5, 5, true, false, LEASE - 1));
    assertFalse(p.leaseEnded(LEASE + 500), "the lease starts again for the controller's write");
    assertTrue(p.leaseEnded(2 * LEASE - 1));
    assertEquals(LeaderHandover.Phase.RESUMING, p.phase());
    assertFalse(p.leaseEnded(3 * LEASE), "reported once");
    assertFalse(p.ready(5, 5, 5, true, false, 3 * LEASE), "resuming is not ready");
  }

  @Test
  void aRepeatedRequestJoinsAndRenewsAndAnyOtherIsRefused() {
    LeaderHandover.Pause p = new LeaderHandover.Pause(4, "b", 0, LEASE);
    assertEquals(Optional.empty(), p.join(4, "b", 600));
    assertFalse(p.leaseEnded(LEASE + 100), "renewed from the repeated request");
    assertTrue(p.join(4, "c", 700).isPresent(), "another target");
    assertTrue(p.join(5, "b", 700).isPresent(), "another epoch: a late or early controller");
    assertTrue(p.leaseEnded(LEASE + 600));
    assertTrue(p.join(4, "b", LEASE + 700).orElseThrow().contains("resuming"),
        "a late request cannot hold a resuming leader: the pause stays bounded");
  }
}
