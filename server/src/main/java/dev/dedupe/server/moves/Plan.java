package dev.dedupe.server.moves;

import java.util.List;
import java.util.Objects;

/**
 * One plan, as its znode holds it ({@code plans/<id>}): a set of jobs made together under one
 * plan id. Immutable; every change is a new record written at the version read. Any node's
 * admin API creates a plan (the controller creates HEAL plans) and may ask to cancel it; only
 * the controller advances it, fenced by its epoch.
 *
 * @param id {@code p-000007}, from the plan znode's sequence number
 * @param kind why it was made
 * @param node the node drained, decommissioned or healed; "" for a rebalance
 * @param maxConcurrent how many of its jobs may be past PENDING at once
 * @param state running, or how it ended
 * @param cancelRequested an admin cancelled it: no pending job starts any more
 * @param ready every job of the plan has been created; the controller starts none before
 * @param createdMillis when it was made, wall-clock milliseconds since the epoch
 * @param updatedMillis when it last changed, wall-clock milliseconds since the epoch
 * @param jobsTotal jobs in the plan
 * @param jobsDone jobs finished as asked
 * @param jobsFailed jobs that failed (refused when they were to start, or skipped because the
 *     shard changed since the plan was made)
 * @param jobsCancelled jobs rolled back or never started because of a cancel
 * @param note why it ended as it did, or what it waits for; "" when there is nothing to say
 * @param steps the jobs as planned, in the order they start
 */
public record Plan(
    String id, PlanKind kind, String node, int maxConcurrent, PlanState state,
    boolean cancelRequested, boolean ready, long createdMillis, long updatedMillis,
    int jobsTotal, int jobsDone, int jobsFailed, int jobsCancelled, String note,
    List<PlannedStep> steps) {

  /** The fewest and the most jobs a plan may run at once. */
  public static final int MIN_CONCURRENT = 1;
  public static final int MAX_CONCURRENT = 64;
  /** What {@code max_concurrent} means when a request leaves it out. */
  public static final int DEFAULT_CONCURRENT = 2;

  public Plan {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(note, "note");
    steps = List.copyOf(steps);
  }

  /** A new plan, not ready until its jobs exist; its id comes from the znode made for it. */
  public static Plan requested(PlanKind kind, String node, int maxConcurrent,
      List<PlannedStep> steps, long nowMillis) {
    return new Plan("", kind, node, maxConcurrent, PlanState.RUNNING, false, false, nowMillis,
        nowMillis, steps.size(), 0, 0, 0, "", steps);
  }

  public boolean running() {
    return state == PlanState.RUNNING;
  }

  public Plan withId(String newId) {
    return new Plan(newId, kind, node, maxConcurrent, state, cancelRequested, ready,
        createdMillis, updatedMillis, jobsTotal, jobsDone, jobsFailed, jobsCancelled, note, steps);
  }

  public Plan asReady(long nowMillis) {
    return new Plan(id, kind, node, maxConcurrent, state, cancelRequested, true, createdMillis,
        nowMillis, jobsTotal, jobsDone, jobsFailed, jobsCancelled, note, steps);
  }

  public Plan withCancelRequested(long nowMillis) {
    return new Plan(id, kind, node, maxConcurrent, state, true, ready, createdMillis, nowMillis,
        jobsTotal, jobsDone, jobsFailed, jobsCancelled, note, steps);
  }

  /** The same plan with another summary (and note); the time changes only if something did. */
  public Plan withSummary(int done, int failed, int cancelled, String newNote, long nowMillis) {
    boolean same = done == jobsDone && failed == jobsFailed && cancelled == jobsCancelled
        && newNote.equals(note);
    return new Plan(id, kind, node, maxConcurrent, state, cancelRequested, ready, createdMillis,
        same ? updatedMillis : nowMillis, jobsTotal, done, failed, cancelled, newNote, steps);
  }

  public Plan finished(PlanState end, String why, long nowMillis) {
    return new Plan(id, kind, node, maxConcurrent, end, cancelRequested, ready, createdMillis,
        nowMillis, jobsTotal, jobsDone, jobsFailed, jobsCancelled, why, steps);
  }

  /** "p-000007 (drain of node-2)", for messages. */
  public String describe() {
    return id + " (" + kind.name().toLowerCase(java.util.Locale.ROOT)
        + (node.isEmpty() ? "" : " of " + node) + ")";
  }
}
