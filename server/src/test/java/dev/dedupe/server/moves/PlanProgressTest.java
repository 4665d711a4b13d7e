package dev.dedupe.server.moves;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.replication.ShardState;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * {@link PlanProgress}: the concurrency limit with transfers first, one job per shard at once,
 * jobs skipped when their shard changed or their target was drained, cancels, and how a plan
 * ends (a decommission only when its node holds nothing).
 */
class PlanProgressTest {

  private static final long NOW = 10_000_000;

  private static ShardState shard(int s, String... replicas) {
    Map<String, String> isr = new java.util.LinkedHashMap<>();
    for (String r : replicas) {
      isr.put(r, "s-" + r);
    }
    return new ShardState(s, List.of(replicas), replicas[0], 2, isr);
  }

  private static Map<Integer, ShardState> shards() {
    Map<Integer, ShardState> m = new TreeMap<>();
    m.put(0, shard(0, "n1", "n2"));
    m.put(1, shard(1, "n2", "n1"));
    m.put(2, shard(2, "n1", "n3"));
    return m;
  }

  private static final List<PlannedStep> STEPS = List.of(
      new PlannedStep(MoveKind.TRANSFER_LEADER, 0, "n1", "n2", List.of("n1", "n2")),
      new PlannedStep(MoveKind.TRANSFER_LEADER, 2, "n1", "n3", List.of("n1", "n3")),
      new PlannedStep(MoveKind.MOVE, 0, "n1", "n4", List.of("n1", "n2")),
      new PlannedStep(MoveKind.MOVE, 1, "n1", "n3", List.of("n2", "n1")),
      new PlannedStep(MoveKind.MOVE, 2, "n1", "n4", List.of("n1", "n3")));

  private static Plan plan(PlanKind kind, int maxConcurrent) {
    return Plan.requested(kind, "n1", maxConcurrent, STEPS, NOW - 1000).withId("p-000001")
        .asReady(NOW - 900);
  }

  /** The plan's jobs as created: ids m-000011.. in step order, moves listed first. */
  private static List<MoveJob> jobs() {
    List<MoveJob> jobs = new ArrayList<>();
    for (int i = 0; i < STEPS.size(); i++) {
      PlannedStep s = STEPS.get(i);
      jobs.add(MoveJob.requested(s.kind(), s.shard(), s.from(), s.to(), "p-000001", NOW - 900)
          .withId("m-0000" + (11 + i)));
    }
    // The order read does not matter: transfers first, then job ids.
    java.util.Collections.reverse(jobs);
    return jobs;
  }

  @Test
  void atMostMaxConcurrentStartTransfersFirstAndOneJobPerShard() {
    List<MoveJob> jobs = jobs();
    PlanProgress.Decision d = PlanProgress.next(plan(PlanKind.DRAIN, 3), jobs, shards(),
        Set.of("n1"), jobs, NOW);
    // Both transfers, then the move of shard 1 (shard 0's and 2's moves wait for their
    // transfers, which run on the same shards).
    assertEquals(Set.of("m-000011", "m-000012", "m-000014"), d.admitted());
    assertEquals(List.of(), d.jobWrites());
    assertTrue(d.plan().running());

    PlanProgress.Decision one = PlanProgress.next(plan(PlanKind.DRAIN, 1), jobs, shards(),
        Set.of("n1"), jobs, NOW);
    assertEquals(Set.of("m-000011"), one.admitted());
  }

  @Test
  void aRunningJobTakesASlotAndFinishedOnesDoNot() {
    List<MoveJob> jobs = new ArrayList<>();
    for (MoveJob j : jobs()) {
      jobs.add(switch (j.id()) {
        case "m-000011", "m-000012" -> j.done(NOW);
        case "m-000013" -> j.inPhase(MovePhase.CATCH_UP, NOW);
        default -> j;
      });
    }
    List<MoveJob> running = jobs.stream().filter(MoveJob::running).toList();
    PlanProgress.Decision d = PlanProgress.next(plan(PlanKind.DRAIN, 2), jobs, shards(),
        Set.of("n1"), running, NOW);
    assertEquals(Set.of("m-000014"), d.admitted(), "one slot left, taken in id order");
    assertEquals(2, d.plan().jobsDone());
  }

  @Test
  void aJobWhoseShardChangedSincePlanningIsSkippedWithWhyAndNeverStarts() {
    Map<Integer, ShardState> changed = shards();
    changed.put(1, shard(1, "n2", "n5")); // an admin moved n1's replica elsewhere meanwhile
    List<MoveJob> jobs = jobs();
    PlanProgress.Decision d = PlanProgress.next(plan(PlanKind.REBALANCE, 5), jobs, changed,
        Set.of(), jobs, NOW);
    MoveJob skipped = d.jobWrites().stream().filter(j -> j.id().equals("m-000014"))
        .findFirst().orElseThrow();
    assertEquals(MoveState.FAILED, skipped.state());
    assertTrue(skipped.lastError().contains("changed since plan p-000001"),
        skipped.lastError());
    assertTrue(!d.admitted().contains("m-000014"));
  }

  @Test
  void aJobWhoseTargetWasDrainedSinceIsSkipped() {
    List<MoveJob> jobs = jobs();
    PlanProgress.Decision d = PlanProgress.next(plan(PlanKind.REBALANCE, 5), jobs, shards(),
        Set.of("n3"), jobs, NOW);
    assertTrue(d.jobWrites().stream().anyMatch(j -> j.id().equals("m-000012")
        && j.lastError().contains("drained")), d.jobWrites().toString());
  }

  @Test
  void aCancelledPlanStartsNothingCancelsPendingJobsAndAsksRunningOnesToRollBack() {
    List<MoveJob> jobs = new ArrayList<>();
    for (MoveJob j : jobs()) {
      jobs.add(j.id().equals("m-000013") ? j.inPhase(MovePhase.CATCH_UP, NOW) : j);
    }
    Plan cancelled = plan(PlanKind.DRAIN, 2).withCancelRequested(NOW);
    PlanProgress.Decision d = PlanProgress.next(cancelled, jobs, shards(), Set.of("n1"),
        jobs, NOW);
    assertEquals(Set.of(), d.admitted());
    assertEquals(5, d.jobWrites().size());
    d.jobWrites().forEach(j -> {
      if (j.id().equals("m-000013")) {
        assertTrue(j.running() && j.cancelRequested(), j.toString());
      } else {
        assertEquals(MoveState.CANCELLED, j.state(), j.toString());
      }
    });
    assertTrue(d.plan().running(), "one job still rolls back");

    List<MoveJob> ended = d.jobWrites().stream().map(j -> j.running() ? j.cancelled(NOW) : j)
        .toList();
    PlanProgress.Decision end = PlanProgress.next(cancelled, ended, shards(), Set.of("n1"),
        List.of(), NOW);
    assertEquals(PlanState.CANCELLED, end.plan().state());
    assertEquals(5, end.plan().jobsCancelled());
  }

  @Test
  void aDecommissionEndsDecommissionedOnlyWhenItsNodeHoldsNothing() {
    List<MoveJob> done = jobs().stream().map(j -> j.done(NOW)).toList();
    PlanProgress.Decision holds = PlanProgress.next(plan(PlanKind.DECOMMISSION, 2), done,
        shards(), Set.of("n1"), List.of(), NOW);
    assertEquals(PlanState.FAILED, holds.plan().state());
    assertTrue(holds.plan().note().contains("still holds replicas"), holds.plan().note());
    assertTrue(!holds.decommission());

    Map<Integer, ShardState> empty = new TreeMap<>();
    empty.put(0, shard(0, "n2", "n4"));
    empty.put(1, shard(1, "n2", "n3"));
    empty.put(2, shard(2, "n3", "n4"));
    PlanProgress.Decision gone = PlanProgress.next(plan(PlanKind.DECOMMISSION, 2), done, empty,
        Set.of("n1"), List.of(), NOW);
    assertEquals(PlanState.DONE, gone.plan().state());
    assertTrue(gone.decommission());
    assertEquals(5, gone.plan().jobsDone());

    PlanProgress.Decision drain = PlanProgress.next(plan(PlanKind.DRAIN, 2), done, empty,
        Set.of("n1"), List.of(), NOW);
    assertEquals(PlanState.DONE, drain.plan().state());
    assertTrue(!drain.decommission());
  }

  @Test
  void aPlanNeverMadeReadyIsGivenUpAndItsJobsNeverStart() {
    Plan notReady = Plan.requested(PlanKind.DRAIN, "n1", 2, STEPS, NOW).withId("p-000001");
    List<MoveJob> jobs = jobs().subList(0, 2);
    assertEquals(notReady, PlanProgress.next(notReady, jobs, shards(), Set.of(), jobs,
        NOW + 1000).plan());
    PlanProgress.Decision late = PlanProgress.next(notReady, jobs, shards(), Set.of(), jobs,
        NOW + PlanProgress.READY_TIMEOUT_MILLIS);
    assertEquals(PlanState.FAILED, late.plan().state());
    assertEquals(2, late.jobWrites().size());
    late.jobWrites().forEach(j -> assertEquals(MoveState.CANCELLED, j.state()));
  }

  @Test
  void aPlanRoundTripsThroughItsJson() {
    Plan p = plan(PlanKind.HEAL, 4).withSummary(1, 2, 0, "x", NOW);
    assertEquals(p, PlanJson.fromJson("p-000001", PlanJson.toJson(p)));
  }
}
