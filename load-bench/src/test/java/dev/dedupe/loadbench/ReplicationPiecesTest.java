package dev.dedupe.loadbench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The pieces of the --replication suite that need no server: the order of measurements, the
 * report and the verdicts on issue 11's targets, its block in docs/benchmarks.md, the CPU of
 * several processes, and what the started cluster's processes are told.
 */
class ReplicationPiecesTest {

  private static final List<ReplicationTarget> TARGETS = ReplicationTarget.ALL;

  @Test
  void eachRoundMeetsEveryTargetOnceAndTheFirstRotates() {
    List<SuiteWorkload> workloads = SuiteWorkload.REPLICATION_DEFAULT;
    List<ReplicationSuite.Step> plan = ReplicationSuite.plan(3, workloads, TARGETS);
    assertEquals(3 * workloads.size() * TARGETS.size(), plan.size());
    Set<String> firsts = new HashSet<>();
    for (int round = 1; round <= 3; round++) {
      for (SuiteWorkload w : workloads) {
        int r = round;
        List<ReplicationTarget> these = plan.stream()
            .filter(s -> s.round() == r && s.workload().equals(w))
            .map(ReplicationSuite.Step::target).toList();
        assertEquals(Set.copyOf(TARGETS), Set.copyOf(these), "every target once");
        firsts.add(these.get(0).name());
      }
    }
    assertEquals(3, firsts.size(), "the first target differs from round to round");
  }

  @Test
  void theTablesAndTheVerdictsComeFromTheMedians() {
    List<SuiteWorkload> workloads = SuiteWorkload.parse("single-16,batch-1pct",
        SuiteWorkload.REPLICATION);
    List<BenchResult.Measurement> ms = new ArrayList<>(List.of(
        m("single-16", "dedupe-1-node", 14_000, 1.0, 80),
        m("single-16", "dedupe-rf1", 12_000, 1.2, 90),
        m("single-16", "dedupe-rf3", 6_000, 2.5, 200),
        m("single-16", "redis-wait-always", 5_000, 3.0, 40),
        m("single-16", "redis-wait-everysec", 20_000, 0.8, 20),
        m("batch-1pct", "dedupe-1-node", 230_000, 16, 7),
        m("batch-1pct", "dedupe-rf1", 200_000, 18, 8),
        m("batch-1pct", "dedupe-rf3", 60_000, 60, 32),
        m("batch-1pct", "redis-wait-always", 100_000, 40, 6),
        m("batch-1pct", "redis-wait-everysec", 150_000, 25, 5)));
    // a second round of factor 3 on single-16: the median of 6.0k and 8.0k is 7.0k
    ms.add(new BenchResult.Measurement(2, "single-16", "dedupe-rf3", 5, 1000, 1_000_000, 0, 3,
        8_000, 2.5, 5.0, 200, 1.5, 0.05));
    List<SuiteSummary.Row> rows = SuiteSummary.of(ms);

    String table = ReplicationReport.table(workloads, TARGETS, rows);
    List<String> lines = table.lines().toList();
    assertEquals(2 + 10, lines.size(), table);
    assertEquals("| workload | target | ids/s (range) | p50 / p99 ms | CPU µs/id, all its"
        + " processes | load: 1-min avg / other CPUs (max) |", lines.get(0));
    assertEquals("| `single-16` | dedupe, 3 nodes, factor 3 | 7.0k (6.0k–8.0k) **3 failed**"
        + " | 2.500 / 5.000 | 200.0 | 1.50 / 0.05 (0.05) |", lines.get(4));
    assertEquals("| `batch-1pct` | Redis + replica, everysec, WAIT 1 | 150k (150k–150k)"
        + " | 25.0 / 50.0 | 5.0 | 1.50 / 0.05 (0.05) |", lines.get(11));

    String ratios = ReplicationReport.ratios(workloads, rows);
    assertEquals("| `single-16` | 0.86x | 0.58x | 2.22x | 1.40x | 0.35x |",
        ratios.lines().toList().get(2), ratios);
    assertEquals("| `batch-1pct` | 0.87x | 0.30x | 4.00x | 0.60x | 0.40x |",
        ratios.lines().toList().get(3), ratios);

    List<String> verdicts = ReplicationReport.targetLines(workloads, rows);
    assertEquals(3, verdicts.size(), verdicts.toString());
    assertEquals("Factor 3's CPU per id over factor 1's (target: at most 3.5x): `single-16`"
        + " 2.22x, `batch-1pct` 4.00x: **missed**.", verdicts.get(0));
    assertEquals("Factor 3 against Redis with WAIT 1 on `single-16` (target: beat it): 1.40x"
        + " Redis + replica, always, WAIT 1 (7.0k against 5.0k ids/s; p50 2.500 against 3.000"
        + " ms); 0.35x Redis + replica, everysec, WAIT 1 (7.0k against 20.0k ids/s; p50 2.500"
        + " against 0.800 ms): **missed**.", verdicts.get(1));
    assertEquals("Factor 1 (3 nodes) against 1 node, same run and client: `single-16` 0.86x the"
        + " ids/s, CPU per id 1.13x; `batch-1pct` 0.87x the ids/s, CPU per id 1.14x.",
        verdicts.get(2));

    // Met when factor 3 stays within 3.5x everywhere and beats every Redis mode measured.
    List<SuiteSummary.Row> good = SuiteSummary.of(List.of(
        m("single-16", "dedupe-rf1", 12_000, 1.2, 90),
        m("single-16", "dedupe-rf3", 9_000, 2.5, 300),
        m("single-16", "redis-wait-always", 5_000, 3.0, 40)));
    List<String> met = ReplicationReport.targetLines(SuiteWorkload.parse("single-16"), good);
    assertTrue(met.get(0).endsWith("`single-16` 3.33x: **met**."), met.get(0));
    assertTrue(met.get(1).endsWith(": **met**."), met.get(1));
    assertEquals(2, met.size(), "no single node measured: no line about it");
  }

  @Test
  void theReportSaysWhenHowAndOnWhat() {
    ComparisonReport.Facts facts = new ComparisonReport.Facts("2026-12-10T01:00:00Z",
        "bin/dedupe bench --replication --rounds 1", 2, "6.1.0", "OpenJDK 21",
        "ZooKeeper 3.9.3; Redis 7.0.15");
    String md = ReplicationReport.render(facts, SuiteWorkload.parse("single-16"), TARGETS,
        SuiteSummary.of(List.of(m("single-16", "dedupe-rf3", 1000, 1, 1))), List.of("a note"));
    assertTrue(md.startsWith("Measured 2026-12-10T01:00:00Z with:\n\n```\n"
        + "bin/dedupe bench --replication --rounds 1\n```\n\nMachine: 2 CPUs (nproc), Linux"
        + " 6.1.0, OpenJDK 21; ZooKeeper 3.9.3; Redis 7.0.15.\n\n| workload | target |"), md);
    assertTrue(md.contains("\n* `single-16`: one id per call, 16 callers, 1% repeats.\n"), md);
    assertTrue(md.endsWith("\n* a note\n"), md);
  }

  @Test
  void itsDocBlockIsApartFromTheVsRedisOne() throws Exception {
    String doc = "# B\n\n" + DocBlock.BEGIN + "\nvs\n" + DocBlock.END + "\n";
    String once = DocBlock.replace(doc, "rep", DocBlock.REPLICATION_BEGIN, DocBlock.REPLICATION_END);
    assertEquals(doc + "\n" + DocBlock.REPLICATION_BEGIN + "\nrep\n" + DocBlock.REPLICATION_END
        + "\n", once);
    String twice = DocBlock.replace(once, "rep2", DocBlock.REPLICATION_BEGIN,
        DocBlock.REPLICATION_END);
    assertEquals(once.replace("\nrep\n", "\nrep2\n"), twice);
    assertEquals(twice.replace("\nvs\n", "\nnew\n"), DocBlock.replace(twice, "new"),
        "the vs-redis block is its own");

    Path docs = Path.of("").toAbsolutePath().getParent().resolve("docs/benchmarks.md");
    String real = Files.readString(docs);
    int begin = real.indexOf(DocBlock.REPLICATION_BEGIN);
    assertTrue(begin > real.indexOf("## Replication"), "the block is in its section");
    assertEquals(begin, real.lastIndexOf(DocBlock.REPLICATION_BEGIN));
    assertTrue(real.indexOf(DocBlock.REPLICATION_END) > begin);
  }

  @Test
  void theCpuOfSeveralProcessesIsTheirSum() {
    long self = ProcessHandle.current().pid();
    double one = CpuClock.sum(new long[] {self});
    assertTrue(one > 0, "this JVM has used CPU");
    double two = CpuClock.sum(new long[] {self, self});
    assertTrue(two >= 2 * one && two < 2 * one + 1, one + " " + two);
    assertEquals(-1, CpuClock.sum(new long[] {}));
    assertEquals(-1, CpuClock.sum(new long[] {self, -1}), "one not local: the sum is unknown");
    CpuClock.Used used = new CpuClock(new long[] {self}, new long[] {-1, self}).used();
    assertTrue(used.server() >= 0 && used.idleServer() >= 0, used.toString());
  }

  @Test
  void theClustersNodesAreToldTheirClusterAfterTheCallersSettings() {
    assertEquals(List.of("storage.shards=4", "cluster.zk=127.0.0.1:2181", "cluster.name=bench-rf3",
            "cluster.node-id=node-2", "cluster.initial-nodes=3", "cluster.replication-factor=3",
            "cluster.min-insync-replicas=2"),
        BenchCluster.nodeSettings(List.of("storage.shards=4"), "bench-rf3", 2, 3, 3, 2,
            "127.0.0.1:2181"));
    String zoo = ZooKeeperProcess.config(Path.of("/tmp/zk/data"), 2999);
    assertTrue(zoo.contains("clientPortAddress=127.0.0.1\n"), zoo);
    assertTrue(zoo.contains("clientPort=2999\n"), zoo);
    assertTrue(zoo.contains("admin.enableServer=false\n"), zoo);
  }

  /** One round's measurement of 1,000,000 ids (CPU seconds read as µs per id). */
  private static BenchResult.Measurement m(String workload, String target, double idsPerSecond,
      double p50, double cpuSeconds) {
    return new BenchResult.Measurement(1, workload, target, 5, 1000, 1_000_000, 10_000, 0,
        idsPerSecond, p50, 2 * p50, cpuSeconds, 1.5, 0.05);
  }
}
