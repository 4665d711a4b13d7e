package dev.dedupe.loadbench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/** The charts of a result: throughput and request latency against stored keys. */
final class Charts {

  static final String THROUGHPUT = "bench-throughput.svg";
  static final String LATENCY = "bench-latency.svg";

  private Charts() {}

  /** File name to SVG document. */
  static Map<String, String> render(BenchResult result) {
    List<String> sizes = new ArrayList<>();
    for (BenchResult.Step s : result.steps()) {
      sizes.add(BenchCommand.count(s.dedupe().keysBefore()));
    }
    boolean redis = result.steps().stream().anyMatch(s -> s.redis() != null);
    String batch = result.settings().getOrDefault("batch", "?");
    String inFlight = result.settings().getOrDefault("concurrency", "?");

    List<SvgChart.Series> throughput = new ArrayList<>();
    throughput.add(series(result, "dedupe", BenchResult.Step::dedupe, BenchResult.Phase::idsPerSecond));
    if (redis) {
      throughput.add(series(result, "redis SET NX EX", BenchResult.Step::redis,
          BenchResult.Phase::idsPerSecond));
    }
    List<SvgChart.Series> latency = new ArrayList<>();
    latency.add(series(result, "dedupe p50", BenchResult.Step::dedupe, BenchResult.Phase::p50Millis));
    latency.add(series(result, "dedupe p99", BenchResult.Step::dedupe, BenchResult.Phase::p99Millis));
    latency.add(series(result, "dedupe p99.9", BenchResult.Step::dedupe, BenchResult.Phase::p999Millis));
    if (redis) {
      latency.add(series(result, "redis p50", BenchResult.Step::redis, BenchResult.Phase::p50Millis));
      latency.add(series(result, "redis p99", BenchResult.Step::redis, BenchResult.Phase::p99Millis));
      latency.add(series(result, "redis p99.9", BenchResult.Step::redis, BenchResult.Phase::p999Millis));
    }
    Map<String, String> charts = new LinkedHashMap<>();
    charts.put(THROUGHPUT, SvgChart.lineChart(
        "CheckAndInsert throughput (batch " + batch + ", " + inFlight + " in flight)",
        "stored keys at the start of the run", "ids per second", sizes, throughput));
    charts.put(LATENCY, SvgChart.lineChart(
        "Latency per request (dedupe: batch " + batch + "; redis: one pipeline)",
        "stored keys at the start of the run", "milliseconds", sizes, latency));
    return charts;
  }

  private static SvgChart.Series series(BenchResult result, String name,
      java.util.function.Function<BenchResult.Step, BenchResult.Phase> phase,
      ToDoubleFunction<BenchResult.Phase> value) {
    double[] values = new double[result.steps().size()];
    for (int i = 0; i < values.length; i++) {
      BenchResult.Phase p = phase.apply(result.steps().get(i));
      values[i] = p == null ? -1 : value.applyAsDouble(p);
    }
    return new SvgChart.Series(name, values, name.startsWith("redis"));
  }
}
