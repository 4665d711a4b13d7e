package dev.dedupe.server.moves;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.replication.ShardState;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * {@link MoveRule} and {@link MoveValidation}: every phase of a move and of a leadership
 * transfer, each step taken again on the state it produced (what a new controller does after a
 * failover), cancels before and after the point of no return, and each refusal.
 */
class MoveRuleTest {

  private static final long NOW = 1_000_000;
  private static final int MIN_ISR = 2;
  private static final Set<String> LIVE = Set.of("n1", "n2", "n3", "n4");
  private static final Map<String, String> STORES =
      Map.of("n1", "s1", "n2", "s2", "n3", "s3", "n4", "s4");

  /** Shard 5 on n1 (leading), n2, n3, all in sync. */
  private static ShardState shard() {
    return new ShardState(5, List.of("n1", "n2", "n3"), "n1", 7,
        Map.of("n1", "s1", "n2", "s2", "n3", "s3"));
  }

  private static MoveJob move(String from, String to) {
    return MoveJob.requested(MoveKind.MOVE, 5, from, to, "", 0).withId("m-000001");
  }

  private static MoveStep next(MoveJob job, ShardState s) {
    return MoveRule.next(job, s, LIVE, STORES, MIN_ISR, List.of(), NOW);
  }

  private static MoveStep.Write write(MoveStep step) {
    return assertInstanceOf(MoveStep.Write.class, step);
  }

  @Test
  void aMoveOfTheLeaderGoesThroughEveryPhaseAndEndsWithTheTargetInItsPlace() {
    ShardState s = shard();
    MoveJob job = move("n1", "n4");

    MoveStep.Write accepted = write(next(job, s));
    assertEquals(Optional.empty(), accepted.shard(), "accepting changes no shard");
    job = accepted.job();
    assertEquals(MovePhase.ADD, job.phase());

    MoveStep.Write add = write(next(job, s));
    s = add.shard().orElseThrow();
    job = add.job();
    assertEquals(List.of("n1", "n2", "n3", "n4"), s.replicas());
    assertEquals("n1", s.leader(), "the leader stays");
    assertEquals(7, s.epoch(), "the epoch stays");
    assertFalse(s.inSync("n4"), "the target is not in sync before it caught up");
    assertEquals(MovePhase.CATCH_UP, job.phase());

    MoveStep.Wait copying = assertInstanceOf(MoveStep.Wait.class, next(job, s));
    assertFalse(copying.needsAttention(), "a copy in progress needs no admin");

    s = s.withInSync("n4", "s4"); // the leader caught it up
    MoveStep.Write caughtUp = write(next(job, s));
    job = caughtUp.job();
    assertEquals(MovePhase.LEADER_TRANSFER, job.phase(), "the source leads: transfer first");

    assertEquals(new MoveStep.TransferLeader("n4"), next(job, s));
    s = s.withLeader("n4", Map.of("n2", "s2", "n3", "s3", "n4", "s4")); // the controller did
    job = write(next(job, s)).job();
    assertEquals(MovePhase.REMOVE, job.phase());

    MoveStep.Write remove = write(next(job, s));
    s = remove.shard().orElseThrow();
    job = remove.job();
    assertEquals(List.of("n2", "n3", "n4"), s.replicas());
    assertEquals(Set.of("n2", "n3", "n4"), s.isr().keySet());
    assertEquals(MoveState.DONE, job.state());
    assertEquals(MovePhase.DONE, job.phase());
  }

  @Test
  void aMoveOfAFollowerSkipsTheLeaderTransfer() {
    ShardState s = shard().withReplicas(List.of("n1", "n2", "n3", "n4")).withInSync("n4", "s4");
    MoveJob job = move("n2", "n4").inPhase(MovePhase.CATCH_UP, 0);
    assertEquals(MovePhase.REMOVE, write(next(job, s)).job().phase());
  }

  @Test
  void everyPhaseTakenAgainOnTheStateItWroteOnlyMovesTheJobOn() {
    // A controller that wrote a step and died before it knew: the new one reads the job at
    // the phase before and the shard after (impossible with one transaction, but the rule
    // must not depend on that).
    ShardState added = shard().withReplicas(List.of("n1", "n2", "n3", "n4"));
    MoveStep.Write again = write(next(move("n1", "n4").inPhase(MovePhase.ADD, 0), added));
    assertEquals(Optional.empty(), again.shard(), "the target is not added twice");
    assertEquals(MovePhase.CATCH_UP, again.job().phase());

    ShardState removed = new ShardState(5, List.of("n2", "n3", "n4"), "n4", 8,
        Map.of("n2", "s2", "n3", "s3", "n4", "s4"));
    MoveStep.Write done = write(next(move("n1", "n4").inPhase(MovePhase.REMOVE, 0), removed));
    assertEquals(Optional.empty(), done.shard());
    assertEquals(MoveState.DONE, done.job().state());

    ShardState transferred = added.withInSync("n4", "s4")
        .withLeader("n4", Map.of("n2", "s2", "n3", "s3", "n4", "s4"));
    MoveStep.Write removeNext =
        write(next(move("n1", "n4").inPhase(MovePhase.LEADER_TRANSFER, 0), transferred));
    assertEquals(MovePhase.REMOVE, removeNext.job().phase(), "no second transfer");
  }

  @Test
  void aTargetThatIsDownMidCopyIsWaitedForAndSaidSo() {
    ShardState s = shard().withReplicas(List.of("n1", "n2", "n3", "n4"));
    MoveJob job = move("n1", "n4").inPhase(MovePhase.CATCH_UP, 0);
    MoveStep.Wait wait = assertInstanceOf(MoveStep.Wait.class, MoveRule.next(job, s,
        Set.of("n1", "n2", "n3"), Map.of("n1", "s1", "n2", "s2", "n3", "s3"), MIN_ISR,
        List.of(), NOW));
    assertTrue(wait.needsAttention());
    assertTrue(wait.reason().contains("n4 is not live"), wait.reason());
  }

  @Test
  void theSourceIsNotRemovedWhileTheTargetIsOutOfSyncOrTheInSyncSetWouldBeTooSmall() {
    ShardState targetOut = new ShardState(5, List.of("n1", "n2", "n3", "n4"), "n2", 8,
        Map.of("n1", "s1", "n2", "s2", "n3", "s3"));
    assertInstanceOf(MoveStep.Wait.class,
        next(move("n1", "n4").inPhase(MovePhase.REMOVE, 0), targetOut));

    ShardState small = new ShardState(5, List.of("n1", "n2", "n4"), "n4", 8,
        Map.of("n1", "s1", "n4", "s4"));
    MoveStep.Wait wait = assertInstanceOf(MoveStep.Wait.class,
        next(move("n1", "n4").inPhase(MovePhase.REMOVE, 0), small));
    assertTrue(wait.reason().contains("min-insync"), wait.reason());
  }

  @Test
  void aSourceElectedBackAfterTheTransferHandsLeadershipOverAgain() {
    ShardState s = new ShardState(5, List.of("n1", "n2", "n3", "n4"), "n1", 9,
        Map.of("n1", "s1", "n2", "s2", "n4", "s4"));
    assertEquals(MovePhase.LEADER_TRANSFER,
        write(next(move("n1", "n4").inPhase(MovePhase.REMOVE, 0), s)).job().phase());
  }

  @Test
  void aCancelBeforeRemoveLeavesTheOldReplicaSet() {
    ShardState before = shard();
    ShardState added = before.withReplicas(List.of("n1", "n2", "n3", "n4"));
    MoveJob catchingUp = move("n1", "n4").inPhase(MovePhase.CATCH_UP, 0).withCancelRequested(0);
    MoveStep.Write rollback = write(next(catchingUp, added));
    assertEquals(before, rollback.shard().orElseThrow());
    assertEquals(MoveState.CANCELLED, rollback.job().state());

    ShardState inSync = added.withInSync("n4", "s4");
    MoveStep.Write fromInSync = write(next(catchingUp.inPhase(MovePhase.LEADER_TRANSFER, 0),
        inSync));
    assertEquals(before, fromInSync.shard().orElseThrow(), "also once the target is in sync");

    MoveStep.Write pending = write(next(move("n1", "n4").withCancelRequested(0), before));
    assertEquals(Optional.empty(), pending.shard(), "a pending job changed nothing to undo");
    assertEquals(MoveState.CANCELLED, pending.job().state());
  }

  @Test
  void aCancelAfterTheTargetTookOverHandsLeadershipBackFirst() {
    ShardState s = new ShardState(5, List.of("n1", "n2", "n3", "n4"), "n4", 8,
        Map.of("n1", "s1", "n2", "s2", "n3", "s3", "n4", "s4"));
    MoveJob job = move("n1", "n4").inPhase(MovePhase.LEADER_TRANSFER, 0).withCancelRequested(0);
    assertEquals(new MoveStep.TransferLeader("n1"), next(job, s));
  }

  @Test
  void aCancelInRemoveIsIgnoredAndTheMoveFinishes() {
    ShardState s = new ShardState(5, List.of("n1", "n2", "n3", "n4"), "n4", 8,
        Map.of("n2", "s2", "n3", "s3", "n4", "s4"));
    MoveJob job = move("n1", "n4").inPhase(MovePhase.REMOVE, 0).withCancelRequested(0);
    assertEquals(MoveState.DONE, write(next(job, s)).job().state());
  }

  @Test
  void aLeaderTransferGoesPendingTransferDone() {
    ShardState s = shard();
    MoveJob job = MoveJob.requested(MoveKind.TRANSFER_LEADER, 5, "n1", "n2", "", 0)
        .withId("m-000002");
    job = write(next(job, s)).job();
    assertEquals(MovePhase.LEADER_TRANSFER, job.phase());
    assertEquals(new MoveStep.TransferLeader("n2"), next(job, s));
    ShardState led = s.withLeader("n2", Map.of("n2", "s2", "n3", "s3"));
    assertEquals(MoveState.DONE, write(next(job, led)).job().state());
  }

  @Test
  void invalidRequestsAreRefusedNamingTheField() {
    ShardState s = shard();
    assertRefused(move("n4", "n2"), s, MoveRefusedException.Reason.INVALID_ARGUMENT, "from_node",
        "holds no replica");
    assertRefused(move("n1", "n2"), s, MoveRefusedException.Reason.INVALID_ARGUMENT, "to_node",
        "already holds a replica");
    assertRefused(move("n1", "n1"), s, MoveRefusedException.Reason.INVALID_ARGUMENT, "to_node",
        "nothing would move");
    assertRefused(move("n1", ""), s, MoveRefusedException.Reason.INVALID_ARGUMENT, "to_node",
        "required");
    assertRefused(move("n1", "n9"), s, MoveRefusedException.Reason.FAILED_PRECONDITION, "",
        "not live");
    assertRefused(move("n1", "n4"), s.withLeader("", s.isr()),
        MoveRefusedException.Reason.FAILED_PRECONDITION, "", "no leader");
    ShardState alone = new ShardState(5, List.of("n1", "n2", "n3"), "n2", 8, Map.of("n2", "s2"));
    assertRefused(move("n2", "n4"), alone, MoveRefusedException.Reason.FAILED_PRECONDITION, "",
        "min-insync");
    MoveJob transfer = MoveJob.requested(MoveKind.TRANSFER_LEADER, 5, "n1", "n4", "", 0);
    assertRefused(transfer, s, MoveRefusedException.Reason.INVALID_ARGUMENT, "to_node",
        "holds no replica");
    MoveJob toOutOfSync = MoveJob.requested(MoveKind.TRANSFER_LEADER, 5, "n1", "n3", "", 0);
    assertRefused(toOutOfSync, s.withoutInSync("n3"),
        MoveRefusedException.Reason.FAILED_PRECONDITION, "", "in sync");
  }

  @Test
  void aSecondJobOnAShardIsRefusedWhileTheFirstRuns() {
    MoveJob first = move("n1", "n4").inPhase(MovePhase.CATCH_UP, 0);
    MoveJob second = MoveJob.requested(MoveKind.MOVE, 5, "n2", "n4", "", 0).withId("m-000002");
    Optional<MoveRefusedException> refused = MoveValidation.check(second, shard(), LIVE, STORES,
        MIN_ISR, List.of(first));
    assertTrue(refused.isPresent());
    assertTrue(refused.get().getMessage().contains("m-000001 "), refused.get().getMessage());
    // The controller fails the later one when it reaches it; the earlier one goes on.
    MoveStep.Write failed = write(MoveRule.next(second, shard(), LIVE, STORES, MIN_ISR,
        List.of(first), NOW));
    assertEquals(MoveState.FAILED, failed.job().state());
    assertTrue(failed.job().lastError().contains("already running"), failed.job().lastError());
    // An earlier job is not refused because of a later one.
    assertTrue(MoveValidation.check(first.inPhase(MovePhase.PENDING, 0), shard(), LIVE, STORES,
        MIN_ISR, List.of(second)).isEmpty());
  }

  @Test
  void anAdminMayNotTargetADrainedOrDecommissionedNodeButTheControllerDoesNotAskAgain() {
    Optional<MoveRefusedException> drained = MoveValidation.checkTarget("n4", Set.of("n4"),
        Set.of());
    assertEquals(MoveRefusedException.Reason.FAILED_PRECONDITION, drained.orElseThrow().reason());
    assertTrue(drained.get().getMessage().contains("n4 is drained"), drained.get().getMessage());
    assertTrue(drained.get().getMessage().contains("admin undrain n4"),
        drained.get().getMessage());
    // A decommissioned node is drained too; what the admin needs to hear is that it left.
    Optional<MoveRefusedException> gone = MoveValidation.checkTarget("n4", Set.of("n4"),
        Set.of("n4"));
    assertTrue(gone.orElseThrow().getMessage().contains("n4 is decommissioned"),
        gone.get().getMessage());
    assertEquals(Optional.empty(), MoveValidation.checkTarget("n4", Set.of("n1"), Set.of("n2")));
    // A plan's pending job to a node drained since is started as planned: the controller's
    // rule knows nothing of drains.
    assertEquals(MovePhase.ADD, write(next(move("n1", "n4"), shard())).job().phase());
  }

  @Test
  void aJobAndItsZnodeDataRoundTrip() {
    MoveJob job = move("n1", "n4").inPhase(MovePhase.CATCH_UP, 5).withError("x", 6);
    assertEquals(job, MoveJobJson.fromJson(job.id(), MoveJobJson.toJson(job)));
    assertEquals("m-000012", MoveIds.fromZnodeName("m-0000000012"));
    assertEquals("m-0000000012", MoveIds.toZnodeName("m-000012"));
  }

  private static void assertRefused(MoveJob job, ShardState s, MoveRefusedException.Reason reason,
      String field, String words) {
    Optional<MoveRefusedException> refused =
        MoveValidation.check(job, s, LIVE, STORES, MIN_ISR, List.of());
    assertTrue(refused.isPresent(), "refused: " + job);
    assertEquals(reason, refused.get().reason(), refused.get().getMessage());
    assertEquals(field, refused.get().field(), refused.get().getMessage());
    assertTrue(refused.get().getMessage().contains(words), refused.get().getMessage());
  }
}
