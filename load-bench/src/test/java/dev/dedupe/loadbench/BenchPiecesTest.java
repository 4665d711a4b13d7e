package dev.dedupe.loadbench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
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
  void resultFileCarriesItsFormatAndRefusesANewerOne(@TempDir Path dir) throws Exception {
    String json = ResultJson.write(sampleResult());
    assertTrue(json.contains("\"format\": " + BenchResult.FORMAT), json);
    Path newer = dir.resolve("newer.json");
    Files.writeString(newer, json.replace("\"format\": " + BenchResult.FORMAT,
        "\"format\": " + (BenchResult.FORMAT + 1)));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> BenchResult.readFrom(newer));
    assertTrue(e.getMessage().contains("format " + (BenchResult.FORMAT + 1)), e.getMessage());
    Path lacking = dir.resolve("lacking.json");
    Files.writeString(lacking, json.replaceFirst("\"p99Millis\": [^,]+,", ""));
    e = assertThrows(IllegalArgumentException.class, () -> BenchResult.readFrom(lacking));
    assertTrue(e.getMessage().contains("'p99Millis'"), e.getMessage());
  }

  /** The result files that docs/benchmarks.md cites were written by the Gson-based writer. */
  @Test
  void theCommittedResultFilesStillLoad() throws Exception {
    Path docs = Path.of("").toAbsolutePath().getParent().resolve("docs");
    List<Path> files;
    try (Stream<Path> listing = Files.list(docs)) {
      files = listing.filter(f -> f.getFileName().toString().endsWith(".json")).sorted().toList();
    }
    assertTrue(files.size() >= 3, "result files in " + docs + ": " + files);
    for (Path file : files) {
      BenchResult result = BenchResult.readFrom(file);
      assertFalse(result.steps().isEmpty(), file.toString());
      assertEquals("2", result.environment().get("cpus"), file.toString());
      assertEquals("dedupe", result.steps().get(0).dedupe().system(), file.toString());
      assertEquals(result, BenchResult.readFrom(write(dir(file), result)), "round trip of " + file);
    }

    BenchResult r100 = BenchResult.readFrom(docs.resolve("bench-100m-vs-redis.json"));
    BenchResult.Step step = r100.steps().get(0);
    assertEquals(100_000_000L, step.targetKeys());
    assertEquals(4362, step.dedupe().requests());
    assertEquals(218054.77933104456, step.dedupe().idsPerSecond());
    assertEquals(16.431, step.dedupe().p50Millis());
    assertEquals("redis", step.redis().system());
    assertEquals(1.561, step.redis().p50Millis());
    assertEquals(2301722271L, step.server().diskBytes());
    assertEquals("appendonly=yes appendfsync=everysec", r100.environment().get("redis_persistence"));
    assertEquals("risk-power-loss", r100.settings().get("preload_durability"));
    assertTrue(step.redisFigures().persistence().contains("appendonly"));

    BenchResult single = BenchResult.readFrom(docs.resolve("bench-single-id.json"));
    assertNull(single.steps().get(0).redis());
    assertNull(single.steps().get(0).redisFigures());
    assertEquals(1, single.steps().get(0).dedupe().batch());
    assertEquals(3, BenchResult.readFrom(docs.resolve("bench-growth.json")).steps().size());
  }

  @TempDir Path scratch;

  private Path dir(Path file) {
    return scratch.resolve(file.getFileName().toString().replace(".json", ""));
  }

  private static Path write(Path dir, BenchResult result) {
    Path file = dir.resolve("result.json");
    result.writeTo(file);
    return file;
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
