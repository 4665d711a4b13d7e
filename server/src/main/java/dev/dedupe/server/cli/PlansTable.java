package dev.dedupe.server.cli;

import dev.dedupe.admin.v1.Move;
import dev.dedupe.admin.v1.MoveKind;
import dev.dedupe.admin.v1.NodeBalance;
import dev.dedupe.admin.v1.Plan;
import dev.dedupe.admin.v1.PlanState;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * {@code admin plans}' table (one row per plan) and the table of a plan's steps with the
 * per-node counts a rebalance shows. Pure, so that tests read it.
 */
final class PlansTable {

  private static final String PLANS = "%-10s %-13s %-10s %-10s %-14s %-7s %s%n";
  private static final String STEPS = "%-6s %-30s %s%n";
  private static final String NODES = "%-14s %-12s %s%n";

  private PlansTable() {}

  static String plans(List<Plan> plans, Instant now) {
    if (plans.isEmpty()) {
      return "no plans (none running, none kept)\n";
    }
    StringBuilder out = new StringBuilder(String.format(PLANS, "ID", "KIND", "NODE", "STATE",
        "JOBS", "AGE", "NOTE"));
    for (Plan p : plans) {
      out.append(String.format(PLANS, p.getPlanId(),
          p.getKind().name().replaceFirst("^PLAN_KIND_", ""),
          p.getNodeId().isEmpty() ? "-" : p.getNodeId(),
          p.getState().name().replaceFirst("^PLAN_STATE_", "")
              + (p.getCancelRequested() && p.getState() == PlanState.PLAN_STATE_RUNNING
                  ? " (cancelling)" : ""),
          jobs(p), age(p, now), p.getNote().isEmpty() ? "-" : p.getNote()));
    }
    long running = plans.stream().filter(p -> p.getState() == PlanState.PLAN_STATE_RUNNING)
        .count();
    out.append(running).append(running == 1 ? " plan running" : " plans running").append('\n');
    return out.toString();
  }

  /** "3/5 done, 1 failed": done of total, then what did not go as asked. */
  static String jobs(Plan p) {
    return p.getJobsDone() + "/" + p.getJobsTotal() + " done"
        + (p.getJobsFailed() > 0 ? ", " + p.getJobsFailed() + " failed" : "")
        + (p.getJobsCancelled() > 0 ? ", " + p.getJobsCancelled() + " cancelled" : "");
  }

  /** A plan's steps (created jobs or a dry run's), in the order they start. */
  static String steps(List<Move> moves) {
    if (moves.isEmpty()) {
      return "no jobs: nothing to move\n";
    }
    StringBuilder out = new StringBuilder(String.format(STEPS, "SHARD", "FROM -> TO", "KIND"));
    for (Move m : moves) {
      boolean transfer = m.getKind() == MoveKind.MOVE_KIND_TRANSFER_LEADER;
      out.append(String.format(STEPS, m.getShard(), m.getFromNode() + " -> " + m.getToNode(),
          (transfer ? "leader" : "replica") + (m.getMoveId().isEmpty() ? ""
              : " (" + m.getMoveId() + ")")));
    }
    return out.toString();
  }

  /** Replicas and leaders per node, now and once the plan is done. */
  static String balance(List<NodeBalance> nodes) {
    StringBuilder out = new StringBuilder(String.format(NODES, "NODE", "REPLICAS", "LEADERS"));
    for (NodeBalance n : nodes) {
      out.append(String.format(NODES, n.getNodeId(),
          n.getReplicasBefore() + " -> " + n.getReplicasAfter(),
          n.getLeadersBefore() + " -> " + n.getLeadersAfter()));
    }
    return out.toString();
  }

  private static String age(Plan p, Instant now) {
    Instant created = Instant.ofEpochSecond(p.getCreateTime().getSeconds(),
        p.getCreateTime().getNanos());
    long s = Math.max(0, Duration.between(created, now).toSeconds());
    return s < 60 ? s + "s" : s < 3600 ? (s / 60) + "m" + String.format("%02d", s % 60) + "s"
        : (s / 3600) + "h" + String.format("%02d", (s % 3600) / 60) + "m";
  }
}
