package dev.dedupe.loadbench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * The suite's figures per workload and target: the median over rounds of each, and the range
 * of throughput. Medians, not means: on a shared machine one round disturbed by a build
 * elsewhere moves a mean, while the median of three rounds ignores it.
 */
final class SuiteSummary {

  /**
   * One workload against one target, over its rounds. A figure that no round knew is -1.
   *
   * @param rounds measurements taken
   * @param loadAverage median 1-minute load average at the end of each measurement
   * @param otherCpus median CPUs taken by other processes; {@code maxOtherCpus} the worst round
   * @param errors failed calls over all rounds
   */
  record Row(
      String workload, String target, int rounds, double idsPerSecond, double minIdsPerSecond,
      double maxIdsPerSecond, double p50Millis, double p99Millis, double serverCpuMicrosPerId,
      double loadAverage, double otherCpus, double maxOtherCpus, long errors) {}

  private SuiteSummary() {}

  /** One row per (workload, target), in the order each pair was first measured. */
  static List<Row> of(List<BenchResult.Measurement> measurements) {
    Map<String, List<BenchResult.Measurement>> groups = new LinkedHashMap<>();
    for (BenchResult.Measurement m : measurements) {
      groups.computeIfAbsent(m.workload() + "\u0000" + m.target(), k -> new ArrayList<>()).add(m);
    }
    List<Row> rows = new ArrayList<>();
    for (List<BenchResult.Measurement> g : groups.values()) {
      BenchResult.Measurement first = g.get(0);
      rows.add(new Row(first.workload(), first.target(), g.size(),
          median(g, BenchResult.Measurement::idsPerSecond),
          g.stream().mapToDouble(BenchResult.Measurement::idsPerSecond).min().orElse(-1),
          g.stream().mapToDouble(BenchResult.Measurement::idsPerSecond).max().orElse(-1),
          median(g, BenchResult.Measurement::p50Millis),
          median(g, BenchResult.Measurement::p99Millis),
          median(g, BenchResult.Measurement::serverCpuMicrosPerId),
          median(g, BenchResult.Measurement::loadAverage),
          median(g, BenchResult.Measurement::otherCpus),
          g.stream().mapToDouble(BenchResult.Measurement::otherCpus).max().orElse(-1),
          g.stream().mapToLong(BenchResult.Measurement::errors).sum()));
    }
    return List.copyOf(rows);
  }

  /** The row of a workload and target, or null when it was not measured. */
  static Row find(List<Row> rows, String workload, String target) {
    return rows.stream().filter(r -> r.workload().equals(workload) && r.target().equals(target))
        .findFirst().orElse(null);
  }

  private static double median(List<BenchResult.Measurement> g,
      ToDoubleFunction<BenchResult.Measurement> figure) {
    return median(g.stream().mapToDouble(figure).toArray());
  }

  /**
   * The median of the known values (negative ones mean unknown and are left out); the mean of
   * the middle two for an even count; -1 when none is known.
   */
  static double median(double... values) {
    double[] known = java.util.Arrays.stream(values).filter(v -> v >= 0).sorted().toArray();
    if (known.length == 0) {
      return -1;
    }
    int mid = known.length / 2;
    return known.length % 2 == 1 ? known[mid] : (known[mid - 1] + known[mid]) / 2;
  }
}
