package dev.dedupe.loadbench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** The parts of bin/dedupe bench that can be checked without timing anything. */
class BenchPiecesTest {

  @Test
  void duplicateShareIsCloseToTheRequestedRatio() {
    for (double ratio : new double[] {0.006, 0.5}) {
      Workload workload = new Workload(Workload.Shape.parse("uuid"), ratio, 42);
      Set<String> seen = new HashSet<>();
      int repeats = 0;
      int n = 100_000;
      for (int i = 0; i < n; i++) {
        if (!seen.add(workload.next())) {
          repeats++;
        }
      }
      // Binomial standard deviation: 24 ids at 0.6%, 158 at 50%; allow about four of them.
      double tolerance = 4 * Math.sqrt(n * ratio * (1 - ratio)) / n;
      assertEquals(ratio, repeats / (double) n, tolerance, "ratio " + ratio);
      assertEquals(repeats, workload.repeatsIssued(), "every repeat is an id sent before");
    }
  }

  @Test
  void noDuplicatesAtRatioZeroAndIdsHaveTheirShape() {
    Workload uuids = new Workload(Workload.Shape.parse("uuid"), 0, 7);
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 10_000; i++) {
      String id = uuids.next();
      assertTrue(seen.add(id), "fresh ids never repeat");
      assertTrue(id.matches("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"), id);
    }
    assertEquals(20, new Workload(Workload.Shape.parse("random:20"), 0, 7).next().length());
    assertTrue(new Workload(Workload.Shape.parse("counter"), 0, 7).next().endsWith("-0"));
    assertEquals(new Workload(Workload.Shape.parse("uuid"), 0.5, 9).batch(50),
        new Workload(Workload.Shape.parse("uuid"), 0.5, 9).batch(50), "a seed fixes the ids");
  }

  @Test
  void resultFileRoundTrips(@TempDir Path dir) {
    BenchResult result = sampleResult();
    Path file = dir.resolve("result.json");
    result.writeTo(file);
    BenchResult back = BenchResult.readFrom(file);
    assertEquals(result, back);
    assertEquals(2.0, back.steps().get(0).ratio(), 1e-9);
    assertEquals(-1, back.steps().get(1).ratio(), "a step without Redis has no ratio");
  }

  @Test
  void chartsAreWellFormedSvgWithOneGroupPerSeries() throws Exception {
    Map<String, String> charts = Charts.render(sampleResult());
    assertEquals(Set.of(Charts.THROUGHPUT, Charts.LATENCY), charts.keySet());
    Document throughput = parse(charts.get(Charts.THROUGHPUT));
    assertEquals("svg", throughput.getDocumentElement().getTagName());
    assertEquals(List.of("dedupe", "redis SET NX EX"), seriesNames(throughput));
    assertEquals(List.of("dedupe p50", "dedupe p99", "dedupe p99.9", "redis p50", "redis p99",
        "redis p99.9"), seriesNames(parse(charts.get(Charts.LATENCY))));
    // Two sizes: dedupe has a point at each, Redis only at the first.
    assertEquals(2, circlesIn(throughput, "dedupe"));
    assertEquals(1, circlesIn(throughput, "redis SET NX EX"));
  }

  @Test
  void optionsParseCountsRatiosAndTimes() {
    BenchOptions o = BenchOptions.parse(List.of("--preload", "1M,10M", "--duplicates", "50%",
        "--duration", "2m", "--warmup", "500ms", "--batch", "1", "--ids", "random:12"));
    assertEquals(List.of(1_000_000L, 10_000_000L), o.preload());
    assertEquals(0.5, o.duplicates(), 1e-12);
    assertEquals(Duration.ofMinutes(2), o.duration());
    assertEquals(Duration.ofMillis(500), o.warmup());
    assertEquals(1, o.batch());
    assertEquals("fsync", o.preloadDurability(), "preload durability follows --durability");
    assertThrows(BenchOptions.BadOption.class, () -> BenchOptions.parse(List.of("--batch", "0")));
    assertThrows(BenchOptions.BadOption.class, () -> BenchOptions.parse(List.of("--preload", "10M,1M")));
    assertThrows(BenchOptions.BadOption.class, () -> BenchOptions.parse(List.of("--duplicates", "1")));
    assertThrows(BenchOptions.BadOption.class,
        () -> BenchOptions.parse(List.of("--target", "h:1", "--preload-durability", "risk-power-loss")));
  }

  @Test
  void opsMetricsSumsLabelSets() {
    OpsMetrics m = OpsMetrics.parse("""
        # HELP dedupe_keys Records held
        dedupe_keys 1000.0
        jvm_memory_committed_bytes{area="heap",id="G1 Eden Space"} 1.2E8
        jvm_memory_committed_bytes{area="heap",id="G1 Old Gen"} 1.4217728E7
        jvm_memory_committed_bytes{area="nonheap",id="Metaspace"} 5.0E7
        dedupe_shard_disk_bytes{shard="0"} 10.0
        dedupe_shard_disk_bytes{shard="1"} 5
        dedupe_rocksdb_stall_seconds_total 0.0025
        """);
    assertEquals(1000, m.value("dedupe_keys"));
    assertEquals(134_217_728L, m.value("jvm_memory_committed_bytes", "area", "heap"));
    assertEquals(184_217_728L, m.value("jvm_memory_committed_bytes"));
    assertEquals(-1, m.value("jvm_memory_committed_bytes", "area", "swap"));
    assertEquals(15, m.value("dedupe_shard_disk_bytes"));
    assertEquals(2500, m.micros("dedupe_rocksdb_stall_seconds_total"));
    assertEquals(-1, m.value("absent"));
  }

  private static BenchResult sampleResult() {
    BenchResult.Phase d1 = new BenchResult.Phase("dedupe", 1_000_000, 1_400_000, 1000, 4, 20.0,
        8000, 8_000_000, 7_952_000, 48_000, 0, 400_000, 2.5, 9.75, 20.125, 31.0, 30.5, 8.25, 0.5);
    BenchResult.Phase r1 = new BenchResult.Phase("redis", 1_000_000, 1_400_000, 32, 8, 20.0,
        125_000, 4_000_000, 3_976_000, 24_000, 0, 200_000, 1.0, 4.0, 9.0, 12.0, 14.0, 6.0, 1.0);
    BenchResult.Phase d2 = new BenchResult.Phase("dedupe", 10_000_000, 10_300_000, 1000, 4, 20.0,
        6000, 6_000_000, 5_964_000, 36_000, 0, 300_000, 3.0, 12.0, 30.0, 40.0, -1, 8.0, -1);
    BenchResult.ServerFigures f = new BenchResult.ServerFigures(1_400_000, 35_000_000, 30_000_000,
        5_000_000, 600L << 20, 256L << 20, 200L << 20, 64L << 20, 1 << 20, 0, 4000,
        500L << 20, 150L << 20);
    BenchResult.RedisFigures rf = new BenchResult.RedisFigures(1_400_000, 182_000_000, 190_000_000,
        1, "appendonly=yes appendfsync=everysec");
    List<BenchResult.Step> steps = new ArrayList<>();
    steps.add(new BenchResult.Step(1_000_000, d1, r1, f, rf));
    steps.add(new BenchResult.Step(10_000_000, d2, null, f, null));
    return new BenchResult(Map.of("cpus", "2"), Map.of("batch", "1000", "concurrency", "4"),
        steps, List.of("a note with \"quotes\" and <angles>"));
  }

  private static Document parse(String svg) throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setNamespaceAware(true);
    return factory.newDocumentBuilder()
        .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
  }

  private static List<String> seriesNames(Document svg) {
    List<String> names = new ArrayList<>();
    NodeList groups = svg.getElementsByTagNameNS("http://www.w3.org/2000/svg", "g");
    for (int i = 0; i < groups.getLength(); i++) {
      Element g = (Element) groups.item(i);
      if (g.getAttribute("class").equals("series")) {
        names.add(g.getAttribute("data-series"));
      }
    }
    return names;
  }

  private static int circlesIn(Document svg, String series) {
    NodeList groups = svg.getElementsByTagNameNS("http://www.w3.org/2000/svg", "g");
    for (int i = 0; i < groups.getLength(); i++) {
      Element g = (Element) groups.item(i);
      if (g.getAttribute("data-series").equals(series)) {
        return g.getElementsByTagNameNS("http://www.w3.org/2000/svg", "circle").getLength();
      }
    }
    return -1;
  }
}
