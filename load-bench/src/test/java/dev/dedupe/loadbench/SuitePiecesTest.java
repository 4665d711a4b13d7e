package dev.dedupe.loadbench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pieces of the --vs-redis suite that need no server: the order of measurements, the
 * medians, the table and the report, the block it writes into docs/benchmarks.md, and the
 * result file.
 */
class SuitePiecesTest {

  private static final List<SuiteTarget> TARGETS = List.of(SuiteTarget.DEDUPE,
      SuiteTarget.redis("always"), SuiteTarget.redis("everysec"));

  @Test
  void workloadsParseByNameAndRunInTableOrder() {
    assertEquals(List.of("single-1", "single-16", "batch-1pct", "batch-50pct", "client-16"),
        SuiteWorkload.ALL.stream().map(SuiteWorkload::name).toList());
    assertEquals(List.of("single-16", "batch-50pct"), SuiteWorkload.parse(" batch-50pct,SINGLE-16,")
        .stream().map(SuiteWorkload::name).toList());
    IllegalArgumentException unknown =
        assertThrows(IllegalArgumentException.class, () -> SuiteWorkload.parse("single-1,batch"));
    assertTrue(unknown.getMessage().startsWith("'batch' is no workload; there are single-1,"),
        unknown.getMessage());
    assertThrows(IllegalArgumentException.class, () -> SuiteWorkload.parse("single-1,single-1"));
    assertThrows(IllegalArgumentException.class, () -> SuiteWorkload.parse(" , "));
    SuiteWorkload batch = SuiteWorkload.parse("batch-1pct").get(0);
    assertEquals(1000, batch.idsPerCall());
    assertEquals(4, batch.callers());
    assertEquals(0.01, batch.repeats());
  }

  @Test
  void eachRoundMeetsEveryTargetOnceAndNoTargetAlwaysGoesFirst() {
    assertEquals(List.of("b", "c", "a"), SuitePlan.rotated(List.of("a", "b", "c"), 1));
    assertEquals(List.of("a", "b", "c"), SuitePlan.rotated(List.of("a", "b", "c"), 3));
    assertEquals(List.of(), SuitePlan.rotated(List.of(), 2));

    List<SuiteWorkload> workloads = SuiteWorkload.parse("single-1,client-16");
    List<SuitePlan.Step> plan = SuitePlan.of(3, workloads, TARGETS);
    // 3 rounds x (3 targets for single-1 + dedupe alone for the client workload)
    assertEquals(12, plan.size());
    Set<String> firsts = new HashSet<>();
    for (int round = 1; round <= 3; round++) {
      int r = round;
      List<SuitePlan.Step> single = plan.stream()
          .filter(s -> s.round() == r && s.workload().name().equals("single-1")).toList();
      assertEquals(Set.of("dedupe", "redis-always", "redis-everysec"),
          new HashSet<>(single.stream().map(s -> s.target().name()).toList()), "round " + r);
      firsts.add(single.get(0).target().name());
      List<SuitePlan.Step> client = plan.stream()
          .filter(s -> s.round() == r && s.workload().viaClient()).toList();
      assertEquals(List.of("dedupe"), client.stream().map(s -> s.target().name()).toList());
    }
    assertEquals(3, firsts.size(), "each target goes first in one of three rounds");
    assertEquals(1, plan.get(0).round());
    assertEquals(3, plan.get(plan.size() - 1).round());
  }

  @Test
  void mediansLeaveUnknownFiguresOutAndRangesSpanTheRounds() {
    assertEquals(2.0, SuiteSummary.median(3, 1, 2));
    assertEquals(2.5, SuiteSummary.median(4, 1, 3, 2));
    assertEquals(5.0, SuiteSummary.median(-1, 5, -1));
    assertEquals(-1, SuiteSummary.median(-1, -1));
    assertEquals(-1, SuiteSummary.median());

    List<BenchResult.Measurement> ms = List.of(
        measurement(1, "batch-1pct", "dedupe", 200_000, 15, 3.0),
        measurement(1, "batch-1pct", "redis-always", 100_000, 20, -1),
        measurement(2, "batch-1pct", "redis-always", 120_000, 22, -1),
        measurement(2, "batch-1pct", "dedupe", 100_000, 16, 4.0),
        measurement(3, "batch-1pct", "dedupe", 250_000, 14, 5.0));
    List<SuiteSummary.Row> rows = SuiteSummary.of(ms);
    assertEquals(List.of("dedupe", "redis-always"), rows.stream().map(SuiteSummary.Row::target).toList());
    SuiteSummary.Row d = rows.get(0);
    assertEquals(3, d.rounds());
    assertEquals(200_000, d.idsPerSecond());
    assertEquals(100_000, d.minIdsPerSecond());
    assertEquals(250_000, d.maxIdsPerSecond());
    assertEquals(15, d.p50Millis());
    assertEquals(4.0 * 1e6 / 1_000_000, d.serverCpuMicrosPerId(), 1e-9);
    SuiteSummary.Row r = rows.get(1);
    assertEquals(110_000, r.idsPerSecond(), "mean of the middle two of an even count");
    assertEquals(-1, r.serverCpuMicrosPerId(), "no round knew Redis's CPU");
    assertNull(SuiteSummary.find(rows, "single-1", "dedupe"));
  }

  @Test
  void theTableHasAColumnGroupPerTargetAndTheClientAgainstRawSingle16() {
    List<SuiteWorkload> workloads = SuiteWorkload.parse("single-16,batch-1pct,client-16");
    List<BenchResult.Measurement> ms = new ArrayList<>(List.of(
        measurement(1, "single-16", "dedupe", 2_000, 8, 80),
        measurement(1, "single-16", "redis-always", 20_000, 0.8, 30),
        measurement(1, "single-16", "redis-everysec", 40_000, 0.4, 20),
        measurement(1, "batch-1pct", "dedupe", 215_000, 16.4, 7.3),
        measurement(1, "batch-1pct", "redis-everysec", 157_360, 1.38, 5),
        measurement(1, "client-16", "dedupe", 12_000, 1.3, 9)));
    String table = ComparisonReport.table(workloads, TARGETS, SuiteSummary.of(ms));
    List<String> lines = table.lines().toList();
    assertEquals(2 + 3, lines.size(), table);
    assertEquals("| workload | dedupe ids/s (range) | dedupe p50 / p99 ms | dedupe CPU µs/id"
        + " | Redis always ids/s (range) | Redis always p50 / p99 ms | Redis always CPU µs/id"
        + " | Redis everysec ids/s (range) | Redis everysec p50 / p99 ms"
        + " | Redis everysec CPU µs/id | dedupe / Redis always | dedupe / Redis everysec"
        + " | load: 1-min avg / other CPUs (max) |", lines.get(0));
    assertEquals(13, lines.get(1).split("\\|", -1).length - 2, "one separator per column");
    assertTrue(lines.get(2).startsWith("| `single-16` | 2.0k (2.0k–2.0k) | 8.000 / 16.0 | 80.0"
        + " | 20.0k (20.0k–20.0k) | 0.800 / 1.600 | 30.0 | 40.0k (40.0k–40.0k) | 0.400 / 0.800 | 20.0"
        + " | 0.10x | 0.050x | "), lines.get(2));
    // batch-1pct has no Redis always measurement: dashes, and no ratio against it.
    assertTrue(lines.get(3).startsWith("| `batch-1pct` | 215k (215k–215k) | 16.4 / 32.8 | 7.3"
        + " | – | – | – | 157k (157k–157k) | 1.380 / 2.760 | 5.0 | – | 1.37x | "), lines.get(3));
    assertTrue(lines.get(4).startsWith("| `client-16` | 12.0k (12.0k–12.0k) | 1.300 / 2.600"),
        lines.get(4));
    assertTrue(lines.get(4).contains("| **6.00x raw single-16** | – |"), lines.get(4));
    assertTrue(lines.get(2).endsWith("| 1.50 / 0.05 (0.05) |"), lines.get(2));

    String client = ComparisonReport.clientLine(workloads, SuiteSummary.of(ms));
    assertEquals("The Java client's batching: `client-16` reached 12.0k ids/s, 6.00x the raw"
        + " `single-16` figure of 2.0k ids/s (goal: at least 5x; met).", client);
    assertNull(ComparisonReport.clientLine(SuiteWorkload.parse("client-16"),
        SuiteSummary.of(ms.subList(5, 6))), "no raw single-16 to compare with");
  }

  @Test
  void theReportSaysWhenHowAndOnWhat() {
    ComparisonReport.Facts facts = new ComparisonReport.Facts("2026-12-02T01:00:00Z",
        "bin/dedupe bench --vs-redis --rounds 1", 2, "6.1.0-13-amd64", "OpenJDK 64-Bit Server VM 21",
        "Redis 7.0.15 (private redis-server)");
    String md = ComparisonReport.render(facts, SuiteWorkload.parse("batch-1pct"), TARGETS,
        SuiteSummary.of(List.of(measurement(1, "batch-1pct", "dedupe", 1000, 1, 1))),
        List.of("a note"));
    assertTrue(md.startsWith("Measured 2026-12-02T01:00:00Z with:\n\n```\n"
        + "bin/dedupe bench --vs-redis --rounds 1\n```\n\n"
        + "Machine: 2 CPUs (nproc), Linux 6.1.0-13-amd64, OpenJDK 64-Bit Server VM 21;"
        + " Redis 7.0.15 (private redis-server).\n\n| workload |"), md);
    assertTrue(md.contains("\n* `batch-1pct`: batches of 1,000 ids, 4 in flight, 1% repeats.\n"), md);
    assertTrue(md.endsWith("\n* a note\n"), md);
    assertEquals("0.0034x", ComparisonReport.ratio(34, 10_000));
    assertEquals("1.37x", ComparisonReport.ratio(137, 100));
    assertEquals("?", ComparisonReport.ratio(1, 0));
    assertEquals("987", ComparisonReport.rate(987));
    assertEquals("1.23M", ComparisonReport.rate(1_234_567));
  }

  @Test
  void theDocBlockIsReplacedBetweenItsMarkersOrAppended() {
    String doc = "# Benchmarks\n\nbefore\n\n" + DocBlock.BEGIN + "\nnot yet run\n" + DocBlock.END
        + "\n\nafter\n";
    String once = DocBlock.replace(doc, "| a | b |\n");
    assertEquals("# Benchmarks\n\nbefore\n\n" + DocBlock.BEGIN + "\n| a | b |\n" + DocBlock.END
        + "\n\nafter\n", once);
    assertEquals(once, DocBlock.replace(once, "| a | b |\n"), "idempotent");
    assertEquals(doc.replace("not yet run", "x"), DocBlock.replace(once, "x"), "replaceable again");

    String bare = "# Other\n\ntext";
    String appended = DocBlock.replace(bare, "table");
    assertEquals("# Other\n\ntext\n\n" + DocBlock.BEGIN + "\ntable\n" + DocBlock.END + "\n", appended);
    assertEquals(appended, DocBlock.replace(appended, "table"), "appended once, then replaced");
    assertEquals(DocBlock.BEGIN + "\nt\n" + DocBlock.END + "\n", DocBlock.replace("", "t"));

    assertThrows(IllegalArgumentException.class,
        () -> DocBlock.replace("x " + DocBlock.BEGIN + " y", "t"), "an end marker is missing");
    assertThrows(IllegalArgumentException.class,
        () -> DocBlock.replace(DocBlock.END + " " + DocBlock.BEGIN, "t"), "out of order");
  }

  /** docs/benchmarks.md holds the block once, in order, and says it was not run yet. */
  @Test
  void theBenchmarksDocHasTheBlock() throws Exception {
    Path docs = Path.of("").toAbsolutePath().getParent().resolve("docs/benchmarks.md");
    String doc = Files.readString(docs);
    assertEquals(doc.indexOf(DocBlock.BEGIN), doc.lastIndexOf(DocBlock.BEGIN));
    assertEquals(doc.indexOf(DocBlock.END), doc.lastIndexOf(DocBlock.END));
    assertTrue(doc.indexOf(DocBlock.BEGIN) > doc.indexOf("## Against Redis, the issue-10 method"));
    String replaced = DocBlock.replace(doc, "x");
    assertEquals(doc.length() - (doc.indexOf(DocBlock.END) - doc.indexOf(DocBlock.BEGIN))
        + (DocBlock.BEGIN.length() + 3), replaced.length(), "only the block changes");
  }

  @Test
  void theDocFileIsWrittenInPlace(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("benchmarks.md");
    Files.writeString(file, "# B\n\n" + DocBlock.BEGIN + "\nold\n" + DocBlock.END + "\n\nrest\n");
    DocBlock.write(file, "new");
    assertEquals("# B\n\n" + DocBlock.BEGIN + "\nnew\n" + DocBlock.END + "\n\nrest\n",
        Files.readString(file));
    Path absent = dir.resolve("new.md");
    DocBlock.write(absent, "new");
    assertEquals(DocBlock.BEGIN + "\nnew\n" + DocBlock.END + "\n", Files.readString(absent));
  }

  @Test
  void aSuiteResultFileRoundTrips(@TempDir Path dir) throws Exception {
    BenchResult result = new BenchResult(Map.of("cpus", "2"), Map.of("rounds", "1"), List.of(),
        List.of("n"), new BenchResult.Comparison(1, List.of("batch-1pct"),
            List.of("dedupe", "redis-always"), List.of(
                measurement(1, "batch-1pct", "dedupe", 200_000, 15, 3.0),
                measurement(1, "batch-1pct", "redis-always", 100_000, 20, -1))));
    Path file = dir.resolve("result.json");
    result.writeTo(file);
    assertEquals(result, BenchResult.readFrom(file));
    String json = Files.readString(file);
    assertTrue(json.contains("\"format\": 2"), json);
    assertTrue(json.contains("\"medians\""), json);
    assertTrue(json.contains("\"serverCpuMicrosPerId\": 3.0"), json);
  }

  /**
   * A measurement of 1,000,000 ids over 5 s (so CPU seconds read as µs per id); p99 is twice
   * p50.
   */
  private static BenchResult.Measurement measurement(int round, String workload, String target,
      double idsPerSecond, double p50, double cpuSeconds) {
    return new BenchResult.Measurement(round, workload, target, 5, 1000, 1_000_000, 10_000, 0,
        idsPerSecond, p50, 2 * p50, cpuSeconds, 1.5, 0.05);
  }
}
