package dev.dedupe.server.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.storage.LogPosition;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The election rules: who may lead, who is preferred, and who leaves the in-sync set. */
class LeaderElectionTest {

  private static final List<String> NODES = List.of("a", "b", "c");
  private static final Map<String, String> ALL_IN_SYNC = Map.of("a", "sa", "b", "sb", "c", "sc");

  private static ShardState led(String leader, Map<String, String> isr) {
    return new ShardState(7, NODES, leader, 4, isr);
  }

  @Test
  void aLiveLeaderWithItsStoreStands() {
    assertEquals(Optional.empty(), LeaderElection.decide(led("a", ALL_IN_SYNC), ALL_IN_SYNC, Map.of()));
  }

  @Test
  void aDeadLeaderIsReplacedByTheMostAdvancedInSyncMemberAtANewEpoch() {
    ShardState next = LeaderElection.decide(led("a", ALL_IN_SYNC), Map.of("b", "sb", "c", "sc"),
        Map.of("b", new LogPosition(4, 10), "c", new LogPosition(4, 12))).orElseThrow();
    assertEquals("c", next.leader());
    assertEquals(5, next.epoch());
    assertFalse(next.inSync("a"), "the old leader may hold entries no one has: out of sync");
    assertEquals(Set.of("b", "c"), next.isr().keySet());
  }

  @Test
  void withoutPositionsReplicaOrderDecides() {
    ShardState next = LeaderElection.decide(led("a", ALL_IN_SYNC), Map.of("b", "sb", "c", "sc"),
        Map.of()).orElseThrow();
    assertEquals("b", next.leader());
  }

  @Test
  void aReplicaBackWithAnotherStoreNeverLeads() {
    // b lost its disk: live, but with a store that acknowledged nothing.
    ShardState next = LeaderElection.decide(led("a", ALL_IN_SYNC), Map.of("b", "new-b", "c", "sc"),
        Map.of("b", new LogPosition(9, 99))).orElseThrow();
    assertEquals("c", next.leader());
  }

  @Test
  void aReplicaOutOfSyncNeverLeadsAndTheShardGoesLeaderlessKeepingItsSet() {
    ShardState current = led("a", Map.of("a", "sa"));
    ShardState next = LeaderElection.decide(current, Map.of("b", "sb", "c", "sc"), Map.of())
        .orElseThrow();
    assertFalse(next.hasLeader());
    assertEquals(5, next.epoch(), "a new epoch fences the old leader's writes");
    assertEquals(Map.of("a", "sa"), next.isr(), "the only complete copy stays in sync");
    assertEquals(Optional.empty(), LeaderElection.decide(next, Map.of("b", "sb"), Map.of()),
        "offline until an in-sync member returns");
    assertEquals("a", LeaderElection.decide(next, Map.of("a", "sa"), Map.of()).orElseThrow()
        .leader());
  }

  @Test
  void departedFollowersLeaveTheInSyncSetOfALedShard() {
    ShardState current = led("a", ALL_IN_SYNC);
    ShardState shrunk = LeaderElection.withoutDeparted(current, Set.of("a", "b"),
        Map.of("a", "sa", "b", "sb")).orElseThrow();
    assertEquals(Set.of("a", "b"), shrunk.isr().keySet(), "c's session ended");
    assertEquals(current.epoch(), shrunk.epoch(), "the leader stays: same epoch");
  }

  @Test
  void aFollowerBackWithAnotherStoreLeavesTheInSyncSet() {
    ShardState shrunk = LeaderElection.withoutDeparted(led("a", ALL_IN_SYNC), Set.of("a", "b", "c"),
        Map.of("a", "sa", "b", "sb", "c", "fresh")).orElseThrow();
    assertEquals(Set.of("a", "b"), shrunk.isr().keySet());
  }

  @Test
  void aFollowerRegisteredButStillOpeningStays() {
    assertEquals(Optional.empty(), LeaderElection.withoutDeparted(led("a", ALL_IN_SYNC),
        Set.of("a", "b", "c"), Map.of("a", "sa", "b", "sb")));
  }

  @Test
  void aLeaderlessShardKeepsItsSetWhoeverIsGone() {
    ShardState leaderless = new ShardState(7, NODES, ShardState.NO_LEADER, 5, ALL_IN_SYNC);
    assertEquals(Optional.empty(),
        LeaderElection.withoutDeparted(leaderless, Set.of("a"), Map.of("a", "sa")));
  }

  @Test
  void anUncleanElectionLeadsAloneWithWhateverTheStoreHolds() {
    ShardState leaderless = new ShardState(7, NODES, ShardState.NO_LEADER, 5, Map.of("a", "sa"));
    ShardState next = LeaderElection.unclean(leaderless, "b", Map.of("b", "sb"));
    assertEquals("b", next.leader());
    assertEquals(Map.of("b", "sb"), next.isr());
    assertTrue(next.epoch() > leaderless.epoch());
    assertThrows(IllegalArgumentException.class,
        () -> LeaderElection.unclean(leaderless, "c", Map.of("b", "sb")));
  }
}
