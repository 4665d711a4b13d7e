package dev.dedupe.server.moves;

import dev.dedupe.server.replication.ShardState;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The controller's rule for one plan on one pass: which of its pending jobs may start now, which
 * jobs to fail or cancel without starting, and the plan's next summary and state. Pure, like
 * {@link MoveRule}; the controller writes what it returns, fenced by its epoch.
 *
 * <p>At most {@code maxConcurrent} of a plan's jobs are past PENDING at once; leadership
 * transfers start before replica moves, each in job-id order. A job waits while an earlier job
 * on its shard runs (of any plan, or an admin's own). A job about to start is checked against
 * the shard as it is then: if the shard's replicas are not those it was planned against, or
 * its target has been drained since, it fails with why, never starting: a plan never undoes a
 * change made after it. A cancelled plan starts nothing more, cancels its pending jobs at
 * once and its running ones through the job cancel. A plan ends when none of its jobs runs.
 */
public final class PlanProgress {

  /** How long a plan may stay not ready (its jobs being created) before it is given up. */
  public static final long READY_TIMEOUT_MILLIS = 60_000;

  /**
   * @param plan the plan as it should be written (the same record when nothing changed)
   * @param jobWrites jobs to write: failed or cancelled before starting, or asked to cancel
   * @param admitted ids of pending jobs that may start on this pass
   * @param decommission whether the plan's node is to be recorded as decommissioned, with it
   */
  public record Decision(Plan plan, List<MoveJob> jobWrites, Set<String> admitted,
      boolean decommission) {}

  private PlanProgress() {}

  /**
   * @param jobs the plan's jobs that are kept (finished ones beyond the last 100 are pruned)
   * @param shards every shard's state now
   * @param drained the drained nodes now
   * @param running every running job of the cluster (for the one-job-per-shard rule)
   */
  public static Decision next(Plan plan, List<MoveJob> jobs, Map<Integer, ShardState> shards,
      Set<String> drained, Collection<MoveJob> running, long nowMillis) {
    List<MoveJob> writes = new ArrayList<>();
    Set<String> admitted = new TreeSet<>();
    if (!plan.running()) {
      // Jobs of a plan that ended without them (given up before it was ready) never start.
      jobs.stream().filter(j -> j.running() && j.phase() == MovePhase.PENDING)
          .forEach(j -> writes.add(j.cancelled(nowMillis)));
      return new Decision(plan, writes, admitted, false);
    }
    if (!plan.ready()) {
      if (nowMillis - plan.createdMillis() < READY_TIMEOUT_MILLIS) {
        return new Decision(plan, writes, admitted, false);
      }
      jobs.stream().filter(j -> j.running() && j.phase() == MovePhase.PENDING)
          .forEach(j -> writes.add(j.cancelled(nowMillis)));
      return new Decision(plan.finished(PlanState.FAILED, "not all of its jobs were created"
          + " (the node creating it stopped); none of them ran", nowMillis), writes, admitted,
          false);
    }
    List<MoveJob> pending = new ArrayList<>();
    int active = 0;
    for (MoveJob j : jobs) {
      if (!j.running()) {
        continue;
      }
      if (j.phase() != MovePhase.PENDING) {
        active++;
        if (plan.cancelRequested() && !j.cancelRequested() && j.phase().cancellable()) {
          writes.add(j.withCancelRequested(nowMillis));
        }
      } else if (plan.cancelRequested()) {
        writes.add(j.cancelled(nowMillis)); // never started: nothing of the shard to roll back
      } else {
        pending.add(j);
      }
    }
    pending.sort(Comparator.comparing((MoveJob j) -> j.kind() != MoveKind.TRANSFER_LEADER)
        .thenComparingLong(j -> MoveIds.sequence(j.id())));
    int slots = plan.maxConcurrent() - active;
    for (MoveJob j : pending) {
      if (slots <= 0) {
        break;
      }
      if (earlierOnShard(j, running)) {
        continue;
      }
      Optional<String> stale = staleness(plan, j, shards.get(j.shard()), drained);
      if (stale.isPresent()) {
        writes.add(j.failed(stale.get(), nowMillis));
        continue;
      }
      admitted.add(j.id());
      slots--;
    }
    return summarize(plan, jobs, writes, shards, nowMillis, admitted);
  }

  /** Why {@code job} no longer makes sense, or empty if it may start. */
  static Optional<String> staleness(Plan plan, MoveJob job, ShardState shard,
      Set<String> drained) {
    if (shard == null) {
      return Optional.of("shard " + job.shard() + " does not exist in this cluster");
    }
    Optional<PlannedStep> step = plan.steps().stream().filter(s -> s.matches(job)).findFirst();
    if (step.isPresent() && !new TreeSet<>(shard.replicas())
        .equals(new TreeSet<>(step.get().expectedReplicas()))) {
      return Optional.of("skipped: shard " + job.shard() + " changed since plan " + plan.id()
          + " was made (replicas now " + shard.replicas() + ", planned against "
          + step.get().expectedReplicas() + "); a plan never undoes a later change");
    }
    if (drained.contains(job.to())) {
      return Optional.of("skipped: target node " + job.to() + " has been drained since plan "
          + plan.id() + " was made");
    }
    return Optional.empty();
  }

  private static boolean earlierOnShard(MoveJob job, Collection<MoveJob> running) {
    long mine = MoveIds.sequence(job.id());
    return running.stream().anyMatch(o -> o.running() && o.shard() == job.shard()
        && !o.id().equals(job.id()) && MoveIds.sequence(o.id()) < mine);
  }

  private static Decision summarize(Plan plan, List<MoveJob> jobs, List<MoveJob> writes,
      Map<Integer, ShardState> shards, long now, Set<String> admitted) {
    Set<String> rewritten = new HashSet<>();
    writes.forEach(w -> rewritten.add(w.id()));
    List<MoveJob> after = new ArrayList<>(writes);
    jobs.stream().filter(j -> !rewritten.contains(j.id())).forEach(after::add);
    int done = 0;
    int failed = 0;
    int cancelled = 0;
    boolean anyRunning = false;
    for (MoveJob j : after) {
      switch (j.state()) {
        case DONE -> done++;
        case FAILED -> failed++;
        case CANCELLED -> cancelled++;
        case RUNNING -> anyRunning = true;
      }
    }
    if (jobs.size() < plan.jobsTotal()) {
      // Finished jobs beyond the last 100 kept were pruned: they were counted before.
      done = Math.max(done, plan.jobsDone());
      failed = Math.max(failed, plan.jobsFailed());
      cancelled = Math.max(cancelled, plan.jobsCancelled());
    }
    Plan next = plan.withSummary(done, failed, cancelled, plan.note(), now);
    if (anyRunning) {
      return new Decision(next, writes, admitted, false);
    }
    List<Integer> held = plan.node().isEmpty() ? List.of() : shards.values().stream()
        .filter(s -> s.replicas().contains(plan.node())).map(ShardState::shard).toList();
    if (plan.cancelRequested()) {
      return new Decision(next.finished(PlanState.CANCELLED, "cancelled: " + done
          + " jobs done before the cancel stay done; " + cancelled + " rolled back or never"
          + " started", now), writes, admitted, false);
    }
    if (plan.kind() == PlanKind.DECOMMISSION) {
      if (held.isEmpty()) {
        return new Decision(next.finished(PlanState.DONE, "node " + plan.node()
            + " is decommissioned: it holds no replica, and may not register again", now),
            writes, admitted, true);
      }
      return new Decision(next.finished(PlanState.FAILED, "node " + plan.node()
          + " still holds replicas of shards " + held + " (" + failed + " jobs failed; 'admin"
          + " moves' shows why); run 'admin decommission " + plan.node() + "' again", now),
          writes, admitted, false);
    }
    if (failed > 0) {
      return new Decision(next.finished(PlanState.FAILED, failed + " of " + plan.jobsTotal()
          + " jobs failed ('admin moves' shows why)" + (held.isEmpty() ? ""
              : "; node " + plan.node() + " still holds replicas of shards " + held), now),
          writes, admitted, false);
    }
    String note = switch (plan.kind()) {
      case DRAIN -> "node " + plan.node() + " is drained: it holds no replica and gets none"
          + " until 'admin undrain " + plan.node() + "'";
      case HEAL -> "node " + plan.node() + "'s replicas are rebuilt on other nodes";
      default -> "";
    };
    return new Decision(next.finished(PlanState.DONE, note, now), writes, admitted, false);
  }
}
