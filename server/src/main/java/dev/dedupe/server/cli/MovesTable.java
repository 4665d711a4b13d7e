package dev.dedupe.server.cli;

import dev.dedupe.admin.v1.Move;
import dev.dedupe.admin.v1.MoveKind;
import dev.dedupe.admin.v1.MoveState;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** {@code admin moves}' table: one row per job, oldest first. Pure, so that tests read it. */
final class MovesTable {

  private static final String FORMAT = "%-10s %-6s %-28s %-16s %-10s %-9s %-7s %s%n";

  private MovesTable() {}

  static String render(List<Move> moves, Instant now) {
    StringBuilder out = new StringBuilder();
    if (moves.isEmpty()) {
      return "no moves (none running, none kept)\n";
    }
    out.append(String.format(FORMAT, "ID", "SHARD", "MOVE", "PHASE", "STATE", "PROGRESS", "AGE",
        "LAST ERROR"));
    for (Move m : moves) {
      out.append(String.format(FORMAT, m.getMoveId(), m.getShard(), what(m),
          m.getPhase().name().replaceFirst("^MOVE_PHASE_", ""),
          m.getState().name().replaceFirst("^MOVE_STATE_", "")
              + (m.getCancelRequested() && m.getState() == MoveState.MOVE_STATE_RUNNING
                  ? " (cancelling)" : ""),
          progress(m), age(m, now), m.getLastError().isEmpty() ? "-" : m.getLastError()));
    }
    long running = moves.stream().filter(m -> m.getState() == MoveState.MOVE_STATE_RUNNING)
        .count();
    out.append(running).append(running == 1 ? " move running" : " moves running").append('\n');
    return withPlanColumn(moves, out.toString());
  }

  /**
   * The table with a first column naming each job's plan, when any job belongs to one (a
   * drain, a rebalance); unchanged otherwise. A decoration of the rendered lines, so that it
   * stays out of the columns' own layout: the header, one line per job, then the summary.
   */
  static String withPlanColumn(List<Move> moves, String table) {
    if (moves.stream().allMatch(m -> m.getPlanId().isEmpty())) {
      return table;
    }
    List<String> lines = table.lines().toList();
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < lines.size(); i++) {
      String plan = i == 0 ? "PLAN" : i <= moves.size()
          ? (moves.get(i - 1).getPlanId().isEmpty() ? "-" : moves.get(i - 1).getPlanId()) : null;
      out.append(plan == null ? "" : String.format("%-10s ", plan)).append(lines.get(i))
          .append('\n');
    }
    return out.toString();
  }

  private static String what(Move m) {
    return m.getKind() == MoveKind.MOVE_KIND_TRANSFER_LEADER
        ? "leader " + (m.getFromNode().isEmpty() ? "?" : m.getFromNode()) + " -> " + m.getToNode()
        : m.getFromNode() + " -> " + m.getToNode();
  }

  /** Bytes copied of total when the cluster reports them; otherwise the phase is the progress. */
  static String progress(Move m) {
    if (m.getBytesTotal() > 0 && m.getBytesCopied() >= 0) {
      return Math.min(100, m.getBytesCopied() * 100 / m.getBytesTotal()) + "%";
    }
    if (m.getBytesCopied() > 0) {
      return m.getBytesCopied() / (1024 * 1024) + " MiB";
    }
    return "-";
  }

  /** Since it was requested: 42s, 5m12s, 3h04m. */
  static String age(Move m, Instant now) {
    Instant created = Instant.ofEpochSecond(m.getCreateTime().getSeconds(),
        m.getCreateTime().getNanos());
    long s = Math.max(0, Duration.between(created, now).toSeconds());
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return (s / 60) + "m" + String.format("%02d", s % 60) + "s";
    }
    return (s / 3600) + "h" + String.format("%02d", (s % 3600) / 60) + "m";
  }
}
