package dev.dedupe.server.cli;

import dev.dedupe.admin.v1.Move;
import dev.dedupe.admin.v1.MoveKind;
import dev.dedupe.admin.v1.MovePhase;
import dev.dedupe.admin.v1.MoveState;
import dev.dedupe.admin.v1.Throttle;
import dev.dedupe.server.copy.ByteRate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * {@code admin moves}' table: one row per job, oldest first, and under a row the job's last
 * error when it has one. Laid out for a 100-column terminal with node ids of up to 6 or 7
 * characters: the phase column shows a running job's phase and a finished job's state; the
 * copy's columns (a bar and its percentage, bytes copied of total, rate, the target's lag in
 * entries, the time left) are filled while the shard's leader copies it. Pure, so that tests
 * read it.
 */
final class MovesTable {

  private static final String FORMAT = "%-8s %-5s %-16s %-15s %-10s %-11s %-9s %-5s %-5s %s%n";
  private static final int BAR_CELLS = 6;

  private MovesTable() {}

  static String render(List<Move> moves, Instant now) {
    return render(moves, Throttle.getDefaultInstance(), now);
  }

  static String render(List<Move> moves, Throttle throttle, Instant now) {
    StringBuilder out = new StringBuilder();
    if (moves.isEmpty()) {
      return "no moves (none running, none kept)\n" + throttleLine(throttle);
    }
    // A first column naming each job's plan (a drain, a rebalance) only when some job has one,
    // so that the usual table keeps its 100 columns.
    boolean planned = moves.stream().anyMatch(m -> !m.getPlanId().isEmpty());
    out.append(planCell(planned, "PLAN")).append(String.format(FORMAT, "ID", "SHARD", "MOVE",
        "PHASE", "PROGRESS", "COPIED", "RATE", "LAG", "ETA", "AGE"));
    for (Move m : moves) {
      out.append(planCell(planned, m.getPlanId().isEmpty() ? "-" : m.getPlanId()))
          .append(String.format(FORMAT, m.getMoveId(), m.getShard(), what(m), phase(m),
              bar(m), copied(m), rate(m), lag(m), eta(m), age(m, now)));
      if (!m.getLastError().isEmpty()) {
        out.append(planCell(planned, "")).append("         ! ").append(m.getLastError())
            .append('\n');
      }
    }
    long running = moves.stream().filter(m -> m.getState() == MoveState.MOVE_STATE_RUNNING)
        .count();
    out.append(running).append(running == 1 ? " move running" : " moves running").append('\n');
    return out.append(throttleLine(throttle)).toString();
  }

  private static String planCell(boolean planned, String plan) {
    return planned ? String.format("%-11s", plan) : "";
  }

  private static String throttleLine(Throttle t) {
    return t.getBytesPerSecond() == 0 ? ""
        : "copy throttle " + ByteRate.format(t.getBytesPerSecond()) + " per node\n";
  }

  private static String what(Move m) {
    return m.getKind() == MoveKind.MOVE_KIND_TRANSFER_LEADER
        ? "leader -> " + m.getToNode()
        : m.getFromNode() + " -> " + m.getToNode();
  }

  /** A running job's phase; a finished one's state. */
  static String phase(Move m) {
    if (m.getState() == MoveState.MOVE_STATE_RUNNING) {
      String p = m.getPhase().name().replaceFirst("^MOVE_PHASE_", "");
      return m.getCancelRequested() ? "CANCELLING" : p;
    }
    return m.getState().name().replaceFirst("^MOVE_STATE_", "");
  }

  private static boolean hasTotal(Move m) {
    return m.getBytesTotal() > 0 && m.getBytesCopied() >= 0;
  }

  /** {@code ###... 52%}, or {@code -} before a copy reports. */
  static String bar(Move m) {
    if (!hasTotal(m)) {
      return m.getPhase() == MovePhase.MOVE_PHASE_DONE || m.getState() != MoveState.MOVE_STATE_RUNNING
          || m.getBytesCopied() < 0 ? "-" : "?";
    }
    long percent = Math.min(100, m.getBytesCopied() * 100 / m.getBytesTotal());
    int filled = (int) Math.min(BAR_CELLS, percent * BAR_CELLS / 100);
    return "#".repeat(filled) + ".".repeat(BAR_CELLS - filled) + " " + percent + "%";
  }

  /** {@code 2.1/4.0MiB}, {@code 2.1/~4.0MiB} while the total is an estimate. */
  static String copied(Move m) {
    if (!hasTotal(m)) {
      return m.getBytesCopied() > 0 ? ByteRate.size(m.getBytesCopied()) : "-";
    }
    String total = ByteRate.size(m.getBytesTotal());
    String unit = total.replaceAll("[0-9.]", "");
    double scale = switch (unit) {
      case "KiB" -> 1024.0;
      case "MiB" -> 1024.0 * 1024;
      case "GiB" -> 1024.0 * 1024 * 1024;
      case "TiB" -> 1024.0 * 1024 * 1024 * 1024;
      default -> 1.0;
    };
    String copied = scale == 1.0 ? Long.toString(m.getBytesCopied())
        : String.format(java.util.Locale.ROOT, "%.1f", m.getBytesCopied() / scale);
    return copied + "/" + (m.getBytesTotalEstimated() ? "~" : "") + total;
  }

  static String rate(Move m) {
    return m.getCopyRateBytesPerSecond() > 0 ? ByteRate.format(m.getCopyRateBytesPerSecond())
        : "-";
  }

  static String lag(Move m) {
    // Only with a leader's figures: a server without them leaves the field at 0, not "none".
    return m.hasCopyUpdateTime() && m.getLagEntries() >= 0
        && m.getState() == MoveState.MOVE_STATE_RUNNING ? Long.toString(m.getLagEntries()) : "-";
  }

  /** Time left for the snapshot at the current rate. */
  static String eta(Move m) {
    if (!hasTotal(m) || m.getCopyRateBytesPerSecond() <= 0) {
      return "-";
    }
    long left = Math.max(0, m.getBytesTotal() - m.getBytesCopied());
    return duration(left / m.getCopyRateBytesPerSecond());
  }

  /** Since it was requested: 42s, 5m12s, 3h04m. */
  static String age(Move m, Instant now) {
    Instant created = Instant.ofEpochSecond(m.getCreateTime().getSeconds(),
        m.getCreateTime().getNanos());
    return duration(Math.max(0, Duration.between(created, now).toSeconds()));
  }

  private static String duration(long s) {
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return (s / 60) + "m" + String.format("%02d", s % 60) + "s";
    }
    return (s / 3600) + "h" + String.format("%02d", (s % 3600) / 60) + "m";
  }
}
