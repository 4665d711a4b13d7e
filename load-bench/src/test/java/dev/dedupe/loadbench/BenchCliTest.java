package dev.dedupe.loadbench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine.ParameterException;

/**
 * {@code bin/dedupe bench}'s command line, as a person typing docs/benchmarks.md's commands
 * meets it: wrong words are refused with one line, a hint and exit 2; failures are one line
 * and exit 1; the documented commands parse to the documented meaning. Nothing here starts a
 * node.
 */
class BenchCliTest {

  /** One command line's exit code and what it printed. */
  record Ran(int code, String out, String err) {
    void assertNoStackTrace() {
      assertFalse(err.contains("\tat "), "a stack trace reached the user:\n" + err);
      assertFalse(err.contains("Exception"), "an exception name reached the user:\n" + err);
    }
  }

  static Ran run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Ran(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void anUnknownOptionIsRefusedWithOneLineAndASuggestion() {
    Ran ran = run("--duraton", "3s");
    assertEquals(Main.USAGE, ran.code(), ran.toString());
    List<String> lines = ran.err().lines().toList();
    // Its value is unknown too: bench takes no arguments but options.
    assertEquals("dedupe: Unknown options: '--duraton', '3s'", lines.get(0), ran.err());
    assertTrue(lines.get(1).startsWith("Possible solutions: ")
        && lines.get(1).contains("--duration"), ran.err());
    assertEquals("Run 'bin/dedupe bench --help' for usage.", lines.get(lines.size() - 1));
    assertEquals(3, lines.size(), ran.err());
    assertEquals("", ran.out(), "no usage dump on a wrong option");
    ran.assertNoStackTrace();

    Ran bogus = run("--bogus");
    assertEquals(Main.USAGE, bogus.code(), bogus.toString());
    assertEquals("dedupe: Unknown option: '--bogus'", bogus.err().lines().findFirst().orElse(""));
    bogus.assertNoStackTrace();
  }

  @Test
  void helpListsEveryOptionAndExitsZero() {
    Ran help = run("--help");
    assertEquals(0, help.code(), help.toString());
    assertEquals("", help.err());
    for (String option : List.of("--target", "--ops", "--data-dir", "--keep-data", "--durability",
        "--server-java-opts", "--server-set", "--batch", "--concurrency", "--channels",
        "--duplicates", "--ids", "--duration", "--warmup", "--namespace", "--seed", "--preload",
        "--preload-batch", "--preload-in-flight", "--preload-durability", "--settle",
        "--settle-max", "--quiet-wait", "--busy-retries", "--vs-redis", "--redis-connections",
        "--redis-pipeline", "--redis-max-keys", "--out", "--svg-dir", "--charts-from",
        "--version")) {
      assertTrue(help.out().contains(option), option + " missing from --help:\n" + help.out());
    }
    assertTrue(help.out().contains("Ids per request (default 1000)."), help.out());
    assertTrue(help.out().contains("The workload:"), help.out());
    assertEquals(0, run("-h").code());

    Ran version = run("--version");
    assertEquals(0, version.code(), version.toString());
    assertTrue(version.out().startsWith("dedupe bench "), version.out());
  }

  @Test
  void aMalformedValueNamesTheOption() {
    Ran size = run("--preload", "1M,lots");
    assertEquals(Main.USAGE, size.code(), size.toString());
    assertTrue(size.err().startsWith("dedupe: Invalid value for option '--preload'"), size.err());
    assertTrue(size.err().contains("'lots' is not a count"), size.err());
    assertEquals(2, size.err().lines().count(), size.err());
    size.assertNoStackTrace();

    Ran time = run("--duration", "soon");
    assertEquals(Main.USAGE, time.code());
    assertTrue(time.err().contains("'--duration'") && time.err().contains("'soon' is not a time"),
        time.err());

    Ran range = run("--batch", "20k");
    assertEquals(Main.USAGE, range.code());
    assertTrue(range.err().startsWith("dedupe: --batch must be 1 to 10000, got 20000"), range.err());

    Ran seed = run("--seed", "x");
    assertEquals(Main.USAGE, seed.code());
    assertTrue(seed.err().contains("'--seed'"), seed.err());

    Ran missing = run("--duration");
    assertEquals(Main.USAGE, missing.code());
    assertTrue(missing.err().contains("--duration"), missing.err());
  }

  @Test
  void theDocumentedCommandsKeepTheirMeaning() {
    // docs/benchmarks.md, "Growth, against Redis".
    BenchOptions growth = BenchCli.parse("--preload", "1M,10M,100M", "--vs-redis", "start",
        "--redis-max-keys", "20M", "--preload-durability", "risk-power-loss", "--settle", "10s",
        "--duration", "20s", "--warmup", "5s", "--out", "bench-results/growth", "--svg-dir", "docs");
    assertEquals(List.of(1_000_000L, 10_000_000L, 100_000_000L), growth.preload());
    assertEquals("start", growth.vsRedis());
    assertEquals(20_000_000L, growth.redisMaxKeys());
    assertEquals("risk-power-loss", growth.preloadDurability());
    assertEquals("fsync", growth.durability());
    assertEquals(Duration.ofSeconds(10), growth.settle());
    assertEquals(Path.of("bench-results/growth"), growth.out());
    assertEquals(Path.of("docs"), growth.svgDir());

    // "One id per request" and "Half of the ids duplicates".
    BenchOptions single = BenchCli.parse("--batch", "1", "--concurrency", "1", "--preload", "1M",
        "--duration", "30s", "--warmup", "10s", "--out", "bench-results/single-id");
    assertEquals(1, single.batch());
    assertEquals(1, single.concurrency());
    assertEquals(Duration.ofSeconds(30), single.duration());
    assertEquals(0.5, BenchCli.parse("--duplicates", "50%").duplicates(), 1e-12);

    // "Against Redis, the issue-10 method".
    BenchOptions suite = BenchCli.parse("--vs-redis", "--duration", "20s", "--warmup", "5s",
        "--out", "bench-results/vs-redis", "--write-doc", "docs/benchmarks.md");
    assertEquals(3, suite.suite().rounds());
    assertEquals(SuiteWorkload.ALL, suite.suite().workloads());
    assertEquals(Path.of("docs/benchmarks.md"), suite.suite().writeDoc());
    assertEquals("fsync", suite.durability());

    // Redrawing the charts.
    BenchOptions charts = BenchCli.parse("--charts-from", "a/result.json,b/result.json",
        "--svg-dir", "docs");
    assertEquals(List.of(Path.of("a/result.json"), Path.of("b/result.json")), charts.chartsFrom());
  }

  @Test
  void theDefaultsAreThoseOfTheHelp() {
    BenchOptions o = BenchCli.parse();
    assertEquals(null, o.target());
    assertEquals("fsync", o.durability());
    assertEquals("fsync", o.preloadDurability(), "preload durability follows --durability");
    assertEquals(List.of(), o.preload());
    assertEquals(10_000, o.preloadBatch());
    assertEquals(8, o.preloadInFlight());
    assertEquals(1000, o.batch());
    assertEquals(4, o.concurrency());
    assertEquals(1, o.channels());
    assertEquals(0.006, o.duplicates(), 1e-12);
    assertEquals("uuid", o.ids().toString());
    assertEquals(Duration.ofSeconds(20), o.duration());
    assertEquals(Duration.ofSeconds(5), o.warmup());
    assertEquals(Duration.ofSeconds(5), o.settle());
    assertEquals(Duration.ofMinutes(10), o.settleMax());
    assertEquals(Duration.ofSeconds(120), o.quietWait());
    assertEquals(1, o.busyRetries());
    assertEquals("bench", o.namespace());
    assertEquals(8, o.redisConnections());
    assertEquals(32, o.redisPipeline());
    assertEquals(Long.MAX_VALUE, o.redisMaxKeys());
    assertEquals(List.of("-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch"), o.serverJavaOptions());
    assertEquals(1, o.seed());
    assertTrue(o.out().startsWith("bench-results"), o.out().toString());
    assertEquals(o.out(), o.svgDir());
  }

  @Test
  void valuesThatLookLikeOptionsAndRepeatsWork() {
    BenchOptions o = BenchCli.parse("--server-java-opts", "-Xms256m -Xmx256m",
        "--server-set", "storage.block-cache.bytes=32MiB",
        "--server-set", "storage.write-buffer.bytes=32MiB", "--seed", "-5",
        "--batch", "10", "--batch", "20");
    assertEquals(List.of("-Xms256m", "-Xmx256m"), o.serverJavaOptions());
    assertEquals(List.of("storage.block-cache.bytes=32MiB", "storage.write-buffer.bytes=32MiB"),
        o.serverSettings());
    assertEquals(-5, o.seed());
    assertEquals(20, o.batch(), "the last of a repeated option wins, as before picocli");
    assertEquals(Duration.ZERO, BenchCli.parse("--quiet-wait", "0").quietWait());
    assertEquals("random:12", BenchCli.parse("--ids", "random:12").ids().toString());
  }

  @Test
  void optionsThatDoNotGoTogetherAreRefused() {
    assertThrows(ParameterException.class, () -> BenchCli.parse("--preload", "10M,1M"));
    assertThrows(ParameterException.class, () -> BenchCli.parse("--duplicates", "1"));
    assertThrows(ParameterException.class, () -> BenchCli.parse("--duration", "0s"));
    assertThrows(ParameterException.class, () -> BenchCli.parse("--server-set", "novalue"));
    assertThrows(ParameterException.class,
        () -> BenchCli.parse("--target", "h:1", "--preload-durability", "risk-power-loss"));
    Ran ran = run("--target", "h:1", "--data-dir", "/tmp/x");
    assertEquals(Main.USAGE, ran.code());
    assertTrue(ran.err().startsWith("dedupe: --data-dir and --server-set are for the node"), ran.err());
    assertTrue(ran.err().contains("Run 'bin/dedupe bench --help' for usage."), ran.err());
    assertEquals("h:8081", BenchCli.parse("--target", "h:1").ops(), "ops port defaults to 8081");
  }

  @Test
  void aFailureIsOneLineAndExitOne(@TempDir Path dir) throws Exception {
    Ran absent = run("--charts-from", dir.resolve("none.json").toString());
    assertEquals(Main.FAILED, absent.code(), absent.toString());
    assertEquals(1, absent.err().lines().count(), absent.err());
    assertEquals("dedupe: cannot read the result file " + dir.resolve("none.json")
        + ": no such file", absent.err().strip());
    absent.assertNoStackTrace();

    int closedPort;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    Ran nobody = run("--target", "127.0.0.1:" + closedPort, "--quiet-wait", "0",
        "--out", dir.resolve("out").toString());
    assertEquals(Main.FAILED, nobody.code(), nobody.toString());
    assertEquals("dedupe: nothing listens at 127.0.0.1:" + closedPort + " (connection refused)",
        nobody.err().strip());

    Path garbage = dir.resolve("garbage.json");
    Files.writeString(garbage, "{\"steps\": 3");
    Ran bad = run("--charts-from", garbage.toString());
    assertEquals(Main.FAILED, bad.code(), bad.toString());
    assertEquals(1, bad.err().lines().count(), bad.err());
    assertTrue(bad.err().contains(garbage.toString()), bad.err());
    bad.assertNoStackTrace();
  }

  @Test
  void chartsFromAWrittenResultFile(@TempDir Path dir) {
    Path docs = Path.of("").toAbsolutePath().getParent().resolve("docs");
    Ran ran = run("--charts-from",
        docs.resolve("bench-growth.json") + "," + docs.resolve("bench-100m-vs-redis.json"),
        "--svg-dir", dir.toString());
    assertEquals(0, ran.code(), ran.toString());
    assertTrue(Files.exists(dir.resolve(Charts.THROUGHPUT)), ran.out());
    assertTrue(Files.exists(dir.resolve(Charts.LATENCY)), ran.out());
  }

  @Test
  void vsRedisWithoutPreloadIsTheSuiteWithItsDefaults() {
    BenchOptions o = BenchCli.parse("--vs-redis", "--duration", "2s", "--warmup", "1s");
    assertEquals("start", o.vsRedis(), "--vs-redis without a value starts a private Redis");
    SuiteOptions suite = o.suite();
    assertTrue(suite != null);
    assertEquals(3, suite.rounds());
    assertEquals(SuiteWorkload.ALL, suite.workloads());
    assertNull(suite.writeDoc());
    assertEquals("random:24", o.ids().toString(), "the harness's random 24-byte ids");
    assertEquals("bin/dedupe bench --vs-redis --duration 2s --warmup 1s", suite.commandLine());

    BenchOptions custom = BenchCli.parse("--vs-redis", "127.0.0.1:6379", "--rounds", "5",
        "--workloads", "client-16,single-16", "--ids", "uuid", "--write-doc", "docs/benchmarks.md",
        "--server-java-opts", "-Xmx1g -Xms1g");
    assertEquals("127.0.0.1:6379", custom.vsRedis());
    assertEquals(5, custom.suite().rounds());
    assertEquals(List.of("single-16", "client-16"),
        custom.suite().workloads().stream().map(SuiteWorkload::name).toList());
    assertEquals("uuid", custom.ids().toString(), "--ids given: the suite uses it");
    assertEquals(Path.of("docs/benchmarks.md"), custom.suite().writeDoc());
    assertTrue(custom.suite().commandLine().endsWith("--server-java-opts '-Xmx1g -Xms1g'"),
        custom.suite().commandLine());
    assertEquals("5", custom.describe().get("rounds"));

    // Growth against Redis stays what it was.
    BenchOptions growth = BenchCli.parse("--preload", "1M", "--vs-redis", "start", "--batch", "10");
    assertNull(growth.suite());
    assertEquals(10, growth.batch());
    assertEquals("uuid", growth.ids().toString());
    assertNull(BenchCli.parse().suite());
  }

  @Test
  void theSuiteRefusesTheGrowthRunsWorkloadOptionsInOneLine() {
    for (String[] args : List.of(new String[] {"--batch", "1"}, new String[] {"--concurrency", "16"},
        new String[] {"--duplicates", "50%"}, new String[] {"--channels", "2"},
        new String[] {"--redis-pipeline", "1000"}, new String[] {"--redis-connections", "4"})) {
      Ran ran = run("--vs-redis", args[0], args[1]);
      assertEquals(Main.USAGE, ran.code(), ran.toString());
      assertEquals("dedupe: " + args[0] + " shapes the workload of a run with --preload; the"
          + " --vs-redis suite runs fixed workloads: choose them with --workloads (see --help)",
          ran.err().lines().findFirst().orElse(""));
      assertEquals(2, ran.err().lines().count(), ran.err());
      ran.assertNoStackTrace();
    }
    for (String option : List.of("--rounds", "--workloads", "--write-doc")) {
      Ran ran = run(option, option.equals("--rounds") ? "2" : "x");
      assertEquals(Main.USAGE, ran.code(), ran.toString());
      assertEquals("dedupe: " + option + " is for the suites: --vs-redis (without --preload)"
          + " or --replication", ran.err().lines().findFirst().orElse(""));
    }
    Ran withPreload = run("--vs-redis", "--preload", "1M", "--rounds", "2");
    assertEquals(Main.USAGE, withPreload.code(), withPreload.toString());

    Ran unknown = run("--vs-redis", "--workloads", "single-1,batch-1");
    assertEquals(Main.USAGE, unknown.code(), unknown.toString());
    assertEquals("dedupe: --workloads 'batch-1' is no workload; there are single-1,single-16,"
        + "batch-1pct,batch-50pct,client-16", unknown.err().lines().findFirst().orElse(""));
    unknown.assertNoStackTrace();

    Ran zero = run("--vs-redis", "--rounds", "0");
    assertEquals(Main.USAGE, zero.code(), zero.toString());
    assertTrue(zero.err().startsWith("dedupe: --rounds must be 1 to 100, got 0"), zero.err());

    Ran badRedis = run("--vs-redis", "nohost");
    assertEquals(Main.USAGE, badRedis.code(), badRedis.toString());
    assertTrue(badRedis.err().contains("takes HOST:PORT, got 'nohost'"), badRedis.err());

    Ran help = run("--help");
    for (String option : List.of("--rounds", "--workloads", "--write-doc", "single-1",
        "batch-50pct", "client-16")) {
      assertTrue(help.out().contains(option), option + " missing from --help:\n" + help.out());
    }
  }

  @Test
  void replicationIsItsOwnSuiteWithItsDefaults() {
    BenchOptions o = BenchCli.parse("--replication", "--duration", "10s");
    SuiteOptions r = o.replication();
    assertTrue(r != null);
    assertNull(o.suite(), "not the --vs-redis suite");
    assertNull(o.vsRedis());
    assertEquals(3, r.rounds());
    assertEquals(List.of("single-16", "batch-1pct", "batch-50pct"),
        r.workloads().stream().map(SuiteWorkload::name).toList());
    assertEquals("random:24", o.ids().toString(), "the suites' ids");
    assertEquals(List.of("-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch"), o.serverJavaOptions(),
        "seven nodes at once: a smaller heap unless told");
    assertEquals("bin/dedupe bench --replication --duration 10s", r.commandLine());
    assertEquals("replication", o.describe().get("suite"));

    BenchOptions custom = BenchCli.parse("--replication", "--rounds", "2", "--workloads",
        "batch-1pct,single-1", "--write-doc", "docs/benchmarks.md", "--server-java-opts", "-Xmx1g",
        "--server-set", "storage.shards=4", "--durability", "risk-power-loss", "--keep-data");
    assertEquals(2, custom.replication().rounds());
    assertEquals(List.of("single-1", "batch-1pct"),
        custom.replication().workloads().stream().map(SuiteWorkload::name).toList());
    assertEquals(Path.of("docs/benchmarks.md"), custom.replication().writeDoc());
    assertEquals(List.of("-Xmx1g"), custom.serverJavaOptions());
    assertEquals(List.of("storage.shards=4"), custom.serverSettings());
    assertEquals("risk-power-loss", custom.durability());
    assertNull(BenchCli.parse().replication());
  }

  @Test
  void replicationRefusesWhatItCannotUseInOneLine() {
    Map<List<String>, String> refused = new java.util.LinkedHashMap<>();
    refused.put(List.of("--vs-redis"),
        "--replication and --vs-redis are two suites: run one at a time");
    refused.put(List.of("--preload", "1M"), "--preload is for the growth run; not with --replication");
    refused.put(List.of("--target", "h:1"), "--target is for one node; --replication starts its"
        + " own (one node and two 3-node clusters, in temporary directories)");
    refused.put(List.of("--data-dir", "/tmp/x"), "--data-dir is for one node; --replication starts"
        + " its own (one node and two 3-node clusters, in temporary directories)");
    refused.put(List.of("--settle", "1s"),
        "--settle is for the growth run (--preload); not with --replication");
    refused.put(List.of("--busy-retries", "2"),
        "--busy-retries is for the growth run (--preload); not with --replication");
    refused.put(List.of("--concurrency", "16"), "--concurrency shapes the workload of a run with"
        + " --preload; --replication runs fixed workloads: choose them with --workloads (see --help)");
    refused.put(List.of("--workloads", "client-16"), "--workloads 'client-16' is no workload of"
        + " this suite; there are single-1,single-16,batch-1pct,batch-50pct");
    refused.put(List.of("--server-set", "cluster.replication-factor=2"), "--server-set"
        + " cluster.replication-factor=2: --replication sets the nodes' cluster, ports and"
        + " directories itself");
    refused.put(List.of("--rounds", "0"), "--rounds must be 1 to 100, got 0");
    for (Map.Entry<List<String>, String> e : refused.entrySet()) {
      List<String> args = new java.util.ArrayList<>(List.of("--replication"));
      args.addAll(e.getKey());
      Ran ran = run(args.toArray(String[]::new));
      assertEquals(Main.USAGE, ran.code(), ran.toString());
      assertEquals("dedupe: " + e.getValue(), ran.err().lines().findFirst().orElse(""));
      assertEquals(2, ran.err().lines().count(), ran.err());
      assertEquals("", ran.out());
      ran.assertNoStackTrace();
    }
    Ran help = run("--help");
    assertTrue(help.out().contains("--replication"), help.out());
    assertTrue(help.out().contains("<!-- replication:begin -->"), help.out());
  }
}
