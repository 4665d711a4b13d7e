package dev.dedupe.loadbench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The {@code --vs-redis} suite's result as Markdown: when and how it was measured, on what, and
 * one table row per workload with dedupe's and each Redis mode's medians side by side. It is
 * both {@code comparison.md} and the block {@code --write-doc} puts into docs/benchmarks.md.
 */
final class ComparisonReport {

  /**
   * What the reader needs to weigh the figures.
   *
   * @param date when the suite ran (ISO-8601, UTC)
   * @param command the command line, as typed
   * @param cpus the processors this JVM sees (nproc)
   * @param kernel the kernel release
   * @param jdk the JVM's name and version (the node runs on the same one)
   * @param redis Redis's version and persistence as it reported them
   */
  record Facts(String date, String command, int cpus, String kernel, String jdk, String redis) {}

  private ComparisonReport() {}

  /** The whole report, ending in a newline. */
  static String render(Facts facts, List<SuiteWorkload> workloads, List<SuiteTarget> targets,
      List<SuiteSummary.Row> rows, List<String> notes) {
    StringBuilder md = new StringBuilder();
    md.append("Measured ").append(facts.date()).append(" with:\n\n```\n").append(facts.command())
        .append("\n```\n\n");
    md.append(String.format(Locale.ROOT, "Machine: %d CPUs (nproc), Linux %s, %s; %s.%n%n",
        facts.cpus(), facts.kernel(), facts.jdk(), facts.redis()));
    md.append(table(workloads, targets, rows));
    md.append('\n');
    for (SuiteWorkload w : workloads) {
      md.append("* `").append(w.name()).append("`: ").append(w.description()).append(".\n");
    }
    String client = clientLine(workloads, rows);
    if (client != null) {
      md.append('\n').append(client).append('\n');
    }
    if (!notes.isEmpty()) {
      md.append('\n');
      notes.forEach(n -> md.append("* ").append(n).append('\n'));
    }
    return md.toString();
  }

  /**
   * The table: rows are workloads; for each target its median ids/s (with the range over
   * rounds), p50 / p99 call latency and server CPU per id; then dedupe over each Redis mode;
   * then the machine's load.
   */
  static String table(List<SuiteWorkload> workloads, List<SuiteTarget> targets,
      List<SuiteSummary.Row> rows) {
    List<SuiteTarget> redis = targets.stream().filter(SuiteTarget::isRedis).toList();
    List<String> header = new ArrayList<>(List.of("workload"));
    for (SuiteTarget t : targets) {
      header.add(t.label() + " ids/s (range)");
      header.add(t.label() + " p50 / p99 ms");
      header.add(t.label() + " CPU µs/id");
    }
    for (SuiteTarget t : redis) {
      header.add("dedupe / " + t.label());
    }
    header.add("load: 1-min avg / other CPUs (max)");
    StringBuilder md = new StringBuilder();
    md.append(row(header));
    md.append(row(header.stream().map(h -> h.equals("workload") ? "---" : "---:").toList()));
    SuiteSummary.Row raw16 = SuiteSummary.find(rows, SuiteWorkload.RAW_SINGLE_16,
        SuiteTarget.DEDUPE.name());
    for (SuiteWorkload w : workloads) {
      List<String> cells = new ArrayList<>(List.of("`" + w.name() + "`"));
      List<SuiteSummary.Row> ofWorkload = new ArrayList<>();
      for (SuiteTarget t : targets) {
        SuiteSummary.Row r = SuiteSummary.find(rows, w.name(), t.name());
        if (r == null) {
          cells.addAll(List.of("–", "–", "–"));
          continue;
        }
        ofWorkload.add(r);
        cells.add(rate(r.idsPerSecond()) + " (" + rate(r.minIdsPerSecond()) + "–"
            + rate(r.maxIdsPerSecond()) + ")" + (r.errors() > 0 ? " **" + r.errors() + " failed**" : ""));
        cells.add(millis(r.p50Millis()) + " / " + millis(r.p99Millis()));
        cells.add(r.serverCpuMicrosPerId() < 0 ? "?" : fixed(r.serverCpuMicrosPerId(), 1));
      }
      SuiteSummary.Row d = SuiteSummary.find(rows, w.name(), SuiteTarget.DEDUPE.name());
      for (int i = 0; i < redis.size(); i++) {
        SuiteSummary.Row r = SuiteSummary.find(rows, w.name(), redis.get(i).name());
        if (w.viaClient() && i == 0) {
          cells.add(d == null || raw16 == null ? "–"
              : "**" + ratio(d.idsPerSecond(), raw16.idsPerSecond()) + " raw single-16**");
        } else {
          cells.add(d == null || r == null ? "–" : ratio(d.idsPerSecond(), r.idsPerSecond()));
        }
      }
      cells.add(load(ofWorkload));
      md.append(row(cells));
    }
    return md.toString();
  }

  /**
   * The client workload against issue 10's goal (at least 5x the raw single-id figure at 16
   * callers), or null when either was not measured.
   */
  static String clientLine(List<SuiteWorkload> workloads, List<SuiteSummary.Row> rows) {
    SuiteSummary.Row raw = SuiteSummary.find(rows, SuiteWorkload.RAW_SINGLE_16,
        SuiteTarget.DEDUPE.name());
    for (SuiteWorkload w : workloads) {
      SuiteSummary.Row c = SuiteSummary.find(rows, w.name(), SuiteTarget.DEDUPE.name());
      if (w.viaClient() && c != null && raw != null && raw.idsPerSecond() > 0) {
        double x = c.idsPerSecond() / raw.idsPerSecond();
        return String.format(Locale.ROOT, "The Java client's batching: `%s` reached %s ids/s,"
                + " %s the raw `%s` figure of %s ids/s (goal: at least 5x; %s).", w.name(),
            rate(c.idsPerSecond()), ratio(c.idsPerSecond(), raw.idsPerSecond()),
            SuiteWorkload.RAW_SINGLE_16, rate(raw.idsPerSecond()), x >= 5 ? "met" : "missed");
      }
    }
    return null;
  }

  private static String load(List<SuiteSummary.Row> rows) {
    if (rows.isEmpty()) {
      return "–";
    }
    double avg = SuiteSummary.median(rows.stream().mapToDouble(SuiteSummary.Row::loadAverage).toArray());
    double others = SuiteSummary.median(rows.stream().mapToDouble(SuiteSummary.Row::otherCpus).toArray());
    double worst = rows.stream().mapToDouble(SuiteSummary.Row::maxOtherCpus).max().orElse(-1);
    return (avg < 0 ? "?" : fixed(avg, 2)) + " / " + (others < 0 ? "?" : fixed(others, 2))
        + " (" + (worst < 0 ? "?" : fixed(worst, 2)) + ")";
  }

  private static String row(List<String> cells) {
    return "| " + String.join(" | ", cells) + " |\n";
  }

  /** Ids per second, short: 987, 12.3k, 215k, 1.23M. */
  static String rate(double perSecond) {
    if (perSecond < 0) {
      return "?";
    }
    if (perSecond >= 1e6) {
      return fixed(perSecond / 1e6, 2) + "M";
    }
    if (perSecond >= 100e3) {
      return fixed(perSecond / 1e3, 0) + "k";
    }
    if (perSecond >= 1e3) {
      return fixed(perSecond / 1e3, 1) + "k";
    }
    return fixed(perSecond, 0);
  }

  private static String millis(double ms) {
    return ms < 0 ? "?" : ms >= 10 ? fixed(ms, 1) : fixed(ms, 3);
  }

  /** a over b: 1.37x; small ratios keep two significant digits (0.0034x), not 0.00x. */
  static String ratio(double a, double b) {
    if (b <= 0 || a < 0) {
      return "?";
    }
    double r = a / b;
    int decimals = r >= 0.1 || r == 0 ? 2 : Math.min(6, 1 - (int) Math.floor(Math.log10(r)));
    return fixed(r, decimals) + "x";
  }

  private static String fixed(double v, int decimals) {
    return String.format(Locale.ROOT, "%." + decimals + "f", v);
  }
}
