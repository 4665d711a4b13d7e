package dev.dedupe.loadbench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The {@code --replication} suite's result as Markdown: when and how it was measured, on what,
 * one table row per workload and target (medians over the rounds), the ratios between targets
 * per workload, and issue 11's targets, each said met or missed from the figures. It is both
 * {@code replication.md} and the block {@code --write-doc} puts into docs/benchmarks.md.
 */
final class ReplicationReport {

  /** Issue 11: factor 3 costs at most this many times the CPU per id of factor 1. */
  static final double MAX_CPU_RATIO = 3.5;

  /** The workload on which factor 3 is to beat Redis with WAIT 1. */
  static final String SINGLE_16 = SuiteWorkload.RAW_SINGLE_16;

  private ReplicationReport() {}

  /** The whole report, ending in a newline. */
  static String render(ComparisonReport.Facts facts, List<SuiteWorkload> workloads,
      List<ReplicationTarget> targets, List<SuiteSummary.Row> rows, List<String> notes) {
    StringBuilder md = new StringBuilder();
    md.append("Measured ").append(facts.date()).append(" with:\n\n```\n").append(facts.command())
        .append("\n```\n\n");
    md.append(String.format(Locale.ROOT, "Machine: %d CPUs (nproc), Linux %s, %s; %s.%n%n",
        facts.cpus(), facts.kernel(), facts.jdk(), facts.redis()));
    md.append(table(workloads, targets, rows)).append('\n');
    md.append(ratios(workloads, rows)).append('\n');
    for (String line : targetLines(workloads, rows)) {
      md.append("* ").append(line).append('\n');
    }
    md.append('\n');
    for (SuiteWorkload w : workloads) {
      md.append("* `").append(w.name()).append("`: ").append(w.description()).append(".\n");
    }
    if (!notes.isEmpty()) {
      md.append('\n');
      notes.forEach(n -> md.append("* ").append(n).append('\n'));
    }
    return md.toString();
  }

  /** One row per workload and target: medians of ids/s (and range), latency, CPU, load. */
  static String table(List<SuiteWorkload> workloads, List<ReplicationTarget> targets,
      List<SuiteSummary.Row> rows) {
    StringBuilder md = new StringBuilder();
    md.append(row(List.of("workload", "target", "ids/s (range)", "p50 / p99 ms",
        "CPU µs/id, all its processes", "load: 1-min avg / other CPUs (max)")));
    md.append(row(List.of("---", "---", "---:", "---:", "---:", "---:")));
    for (SuiteWorkload w : workloads) {
      for (ReplicationTarget t : targets) {
        SuiteSummary.Row r = SuiteSummary.find(rows, w.name(), t.name());
        if (r == null) {
          continue;
        }
        md.append(row(List.of("`" + w.name() + "`", t.label(),
            ComparisonReport.rate(r.idsPerSecond()) + " (" + ComparisonReport.rate(r.minIdsPerSecond())
                + "–" + ComparisonReport.rate(r.maxIdsPerSecond()) + ")"
                + (r.errors() > 0 ? " **" + r.errors() + " failed**" : ""),
            millis(r.p50Millis()) + " / " + millis(r.p99Millis()),
            r.serverCpuMicrosPerId() < 0 ? "?" : fixed(r.serverCpuMicrosPerId(), 1),
            (r.loadAverage() < 0 ? "?" : fixed(r.loadAverage(), 2)) + " / "
                + (r.otherCpus() < 0 ? "?" : fixed(r.otherCpus(), 2)) + " ("
                + (r.maxOtherCpus() < 0 ? "?" : fixed(r.maxOtherCpus(), 2)) + ")")));
      }
    }
    return md.toString();
  }

  /** Per workload: the ratios the targets of issue 11 are about. */
  static String ratios(List<SuiteWorkload> workloads, List<SuiteSummary.Row> rows) {
    StringBuilder md = new StringBuilder();
    md.append(row(List.of("workload", "factor 1 / 1 node, ids/s", "factor 3 / factor 1, ids/s",
        "factor 3 / factor 1, CPU per id", "factor 3 / Redis always WAIT 1, ids/s",
        "factor 3 / Redis everysec WAIT 1, ids/s")));
    md.append(row(List.of("---", "---:", "---:", "---:", "---:", "---:")));
    for (SuiteWorkload w : workloads) {
      md.append(row(List.of("`" + w.name() + "`",
          rateRatio(rows, w, ReplicationTarget.RF1, ReplicationTarget.ONE_NODE),
          rateRatio(rows, w, ReplicationTarget.RF3, ReplicationTarget.RF1),
          cpuRatio(rows, w.name()),
          rateRatio(rows, w, ReplicationTarget.RF3, ReplicationTarget.REDIS_ALWAYS),
          rateRatio(rows, w, ReplicationTarget.RF3, ReplicationTarget.REDIS_EVERYSEC))));
    }
    return md.toString();
  }

  /**
   * Issue 11's targets that the figures can decide, one line each: factor 3's CPU per id
   * against factor 1's, factor 3 against Redis with WAIT 1 on single-16, and factor 1 against
   * one node (the figures the performance work reached were one node's).
   */
  static List<String> targetLines(List<SuiteWorkload> workloads, List<SuiteSummary.Row> rows) {
    List<String> lines = new ArrayList<>();
    List<String> cpu = new ArrayList<>();
    boolean cpuMet = true;
    for (SuiteWorkload w : workloads) {
      double r = cpuRatioValue(rows, w.name());
      if (r < 0) {
        continue;
      }
      cpu.add("`" + w.name() + "` " + fixed(r, 2) + "x");
      cpuMet &= r <= MAX_CPU_RATIO;
    }
    if (!cpu.isEmpty()) {
      lines.add("Factor 3's CPU per id over factor 1's (target: at most "
          + fixed(MAX_CPU_RATIO, 1) + "x): " + String.join(", ", cpu) + ": **"
          + (cpuMet ? "met" : "missed") + "**.");
    }
    SuiteSummary.Row rf3 = SuiteSummary.find(rows, SINGLE_16, ReplicationTarget.RF3.name());
    if (rf3 != null) {
      List<String> vs = new ArrayList<>();
      boolean beats = true;
      boolean any = false;
      for (ReplicationTarget redis : List.of(ReplicationTarget.REDIS_ALWAYS,
          ReplicationTarget.REDIS_EVERYSEC)) {
        SuiteSummary.Row r = SuiteSummary.find(rows, SINGLE_16, redis.name());
        if (r == null || r.idsPerSecond() <= 0) {
          continue;
        }
        any = true;
        boolean faster = rf3.idsPerSecond() > r.idsPerSecond();
        beats &= faster;
        vs.add(ComparisonReport.ratio(rf3.idsPerSecond(), r.idsPerSecond()) + " " + redis.label()
            + " (" + ComparisonReport.rate(rf3.idsPerSecond()) + " against "
            + ComparisonReport.rate(r.idsPerSecond()) + " ids/s; p50 " + millis(rf3.p50Millis())
            + " against " + millis(r.p50Millis()) + " ms)");
      }
      if (any) {
        lines.add("Factor 3 against Redis with WAIT 1 on `" + SINGLE_16 + "` (target: beat it): "
            + String.join("; ", vs) + ": **" + (beats ? "met" : "missed") + "**.");
      }
    }
    List<String> one = new ArrayList<>();
    for (SuiteWorkload w : workloads) {
      SuiteSummary.Row f1 = SuiteSummary.find(rows, w.name(), ReplicationTarget.RF1.name());
      SuiteSummary.Row n1 = SuiteSummary.find(rows, w.name(), ReplicationTarget.ONE_NODE.name());
      if (f1 == null || n1 == null) {
        continue;
      }
      String cpuPart = f1.serverCpuMicrosPerId() < 0 || n1.serverCpuMicrosPerId() < 0 ? ""
          : ", CPU per id " + ComparisonReport.ratio(f1.serverCpuMicrosPerId(),
              n1.serverCpuMicrosPerId());
      one.add("`" + w.name() + "` " + ComparisonReport.ratio(f1.idsPerSecond(), n1.idsPerSecond())
          + " the ids/s" + cpuPart);
    }
    if (!one.isEmpty()) {
      lines.add("Factor 1 (3 nodes) against 1 node, same run and client: " + String.join("; ", one)
          + ".");
    }
    return lines;
  }

  private static String rateRatio(List<SuiteSummary.Row> rows, SuiteWorkload w,
      ReplicationTarget a, ReplicationTarget b) {
    SuiteSummary.Row ra = SuiteSummary.find(rows, w.name(), a.name());
    SuiteSummary.Row rb = SuiteSummary.find(rows, w.name(), b.name());
    return ra == null || rb == null ? "–" : ComparisonReport.ratio(ra.idsPerSecond(), rb.idsPerSecond());
  }

  private static String cpuRatio(List<SuiteSummary.Row> rows, String workload) {
    double r = cpuRatioValue(rows, workload);
    return r < 0 ? "–" : fixed(r, 2) + "x";
  }

  /** Factor 3's median CPU per id over factor 1's for a workload, or -1 when not known. */
  static double cpuRatioValue(List<SuiteSummary.Row> rows, String workload) {
    SuiteSummary.Row rf3 = SuiteSummary.find(rows, workload, ReplicationTarget.RF3.name());
    SuiteSummary.Row rf1 = SuiteSummary.find(rows, workload, ReplicationTarget.RF1.name());
    if (rf3 == null || rf1 == null || rf3.serverCpuMicrosPerId() < 0
        || rf1.serverCpuMicrosPerId() <= 0) {
      return -1;
    }
    return rf3.serverCpuMicrosPerId() / rf1.serverCpuMicrosPerId();
  }

  private static String row(List<String> cells) {
    return "| " + String.join(" | ", cells) + " |\n";
  }

  private static String millis(double ms) {
    return ms < 0 ? "?" : ms >= 10 ? fixed(ms, 1) : fixed(ms, 3);
  }

  private static String fixed(double v, int decimals) {
    return String.format(Locale.ROOT, "%." + decimals + "f", v);
  }
}
