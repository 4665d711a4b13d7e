package dev.dedupe.loadbench;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.LongStream;

/**
 * {@code bin/dedupe bench --replication}: issue 11's comparison of replicated shards, in one
 * run. Its targets ({@link ReplicationTarget}) stand side by side for the whole run: dedupe as
 * one node (the figures the performance work reached were one node's), as 3 nodes in 3
 * processes with replication factor 1, and as 3 nodes with factor 3 (min in-sync 2), the two
 * clusters joined through one ZooKeeper (a child process) under names of their own; and a Redis
 * primary with one replica (two private redis-servers, {@code replicaof}), each call followed by
 * {@code WAIT 1}, with appendfsync always and everysec on both (switched with CONFIG SET).
 *
 * <p>Every dedupe target is driven through the Java client, which sends each id to its shard's
 * leader: single-id workloads with {@code maxBatchIds} 1 (one request per call, as the raw
 * single-id workloads of the --vs-redis suite), batches with {@code maxBatchIds} 1,000 (one
 * call, split by leader). Rounds, rotation, fresh ids and medians as in {@link VsRedisSuite};
 * CPU per id is the sum over every process of the measured target.
 */
final class ReplicationSuite {

  /** How long a Redis WAIT may wait for its replica: the nodes' cluster.replication-timeout. */
  static final Duration WAIT_TIMEOUT = Duration.ofSeconds(5);

  /** One measurement to take. */
  record Step(int round, SuiteWorkload workload, ReplicationTarget target) {}

  private final BenchOptions options;
  private final SuiteOptions suite;
  private final PrintStream out;
  private final List<String> notes = new ArrayList<>();
  private final List<BenchResult.Measurement> measurements = new ArrayList<>();
  private final Map<String, String> environment = new LinkedHashMap<>();
  private final List<ReplicationTarget> targets = ReplicationTarget.ALL;
  private ZooKeeperProcess zookeeper;
  private Path zookeeperDir;
  private EmbeddedServer oneNode;
  private Path oneNodeDir;
  private BenchCluster rf1;
  private BenchCluster rf3;
  private RedisServer primary;
  private RedisServer replica;
  private RedisDriver primaryDriver;
  private RedisDriver replicaDriver;
  private Path redisDir;
  private String currentAppendfsync = "everysec";
  private long windowSeconds;

  private ReplicationSuite(BenchOptions options, PrintStream out) {
    this.options = options;
    this.suite = options.replication();
    this.out = out;
  }

  /** Runs the suite; returns the exit code. Failures are exceptions, printed by {@link Main}. */
  static int run(BenchOptions options, PrintStream out, PrintStream err) {
    ReplicationSuite s = new ReplicationSuite(options, out);
    return StopsWhatItStarted.run(s::execute, s::cleanUp, err);
  }

  /**
   * The order of the measurements: round after round; in each round every workload, and for
   * each workload every target once, the targets' order rotating by one each round.
   */
  static List<Step> plan(int rounds, List<SuiteWorkload> workloads,
      List<ReplicationTarget> targets) {
    List<Step> steps = new ArrayList<>();
    for (int round = 1; round <= rounds; round++) {
      for (SuiteWorkload w : workloads) {
        for (ReplicationTarget t : SuitePlan.rotated(targets, round - 1)) {
          steps.add(new Step(round, w, t));
        }
      }
    }
    return steps;
  }

  private void execute() throws InterruptedException {
    try {
      Files.createDirectories(options.out());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make the output directory " + options.out(), e);
    }
    Optional<Path> redisServer = RedisServer.find();
    if (redisServer.isEmpty()) {
      throw new IllegalStateException("the --replication suite needs redis-server on the PATH"
          + " (Debian: apt-get install redis-server)");
    }
    describeEnvironment();
    startRedis(redisServer.get());
    startDedupe();
    describeMethod();
    List<Step> plan = plan(suite.rounds(), suite.workloads(), targets);
    long perMeasurement = options.warmup().plus(options.duration()).toSeconds();
    out.printf("replication suite: %d round(s) of %s against %s: %d measurements of %s + %s"
            + " warm-up (about %d min)%n", suite.rounds(),
        SuiteWorkload.names(suite.workloads()),
        String.join(", ", targets.stream().map(ReplicationTarget::name).toList()), plan.size(),
        human(options.duration()), human(options.warmup()),
        Math.max(1, Math.round((plan.size() * (perMeasurement + 3)
            + plan.size() / suite.rounds() * options.warmup().toSeconds()) / 60.0)));
    warmUp();
    for (int k = 0; k < plan.size(); k++) {
      Step step = plan.get(k);
      out.printf("round %d/%d  %-12s %-20s %s ...%n", step.round(), suite.rounds(),
          step.workload().name(), step.target().name(), step.workload().description());
      BenchResult.Measurement m = measure(step, k);
      measurements.add(m);
      printMeasurement(m);
      // After each, so that an interrupted suite leaves what it measured.
      result().writeTo(options.out().resolve("result.json"));
    }
    rf1.writeStatus(options.out().resolve("status-" + rf1.name() + "-end.txt"));
    rf3.writeStatus(options.out().resolve("status-" + rf3.name() + "-end.txt"));
    notes.add("The clusters' shard states (leader, replicas, in-sync set) at the start and the"
        + " end are in the output directory (status-*.txt, from bin/dedupe admin status).");
    finish();
  }

  private void startRedis(Path executable) {
    redisDir = ScratchDirs.create("dedupe-bench-redis-pair");
    primary = RedisServer.start(executable, redisDir.resolve("primary"),
        options.out().resolve("redis-primary.log"));
    replica = RedisServer.start(executable, redisDir.resolve("replica"),
        options.out().resolve("redis-replica.log"),
        List.of("--replicaof", "127.0.0.1", Integer.toString(primary.port())));
    primaryDriver = new RedisDriver("127.0.0.1", primary.port());
    replicaDriver = new RedisDriver("127.0.0.1", replica.port());
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!"up".equals(replicaDriver.info("replication").get("master_link_status"))) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the Redis replica did not link to its primary within"
            + " 60 s; see " + options.out().resolve("redis-replica.log"));
      }
      EmbeddedServer.sleep(200);
    }
    for (RedisDriver r : List.of(primaryDriver, replicaDriver)) {
      if (!r.setAppendfsync(currentAppendfsync)) {
        throw new IllegalStateException("Redis at " + r.address() + " refused CONFIG SET");
      }
    }
    out.printf("started a Redis primary (pid %d) on %s and its replica (pid %d) on %s (%s,"
            + " data in %s)%n", primary.pid(), primaryDriver.address(), replica.pid(),
        replicaDriver.address(), RedisServer.PERSISTENCE, redisDir);
    environment.put("redis_version",
        primaryDriver.info("server").getOrDefault("redis_version", "?"));
  }

  private void startDedupe() {
    zookeeperDir = ScratchDirs.create("dedupe-bench-zookeeper");
    zookeeper = ZooKeeperProcess.start(zookeeperDir, options.out().resolve("zookeeper.log"));
    out.printf("started ZooKeeper (pid %d) on %s%n", zookeeper.pid(), zookeeper.connectString());
    oneNodeDir = ScratchDirs.create("dedupe-bench-data");
    oneNode = EmbeddedServer.start(oneNodeDir, options.durability(), options.serverJavaOptions(),
        options.serverSettings(), options.out().resolve("server.log"));
    out.printf("started a dedupe node (pid %d) on %s, durability %s%n", oneNode.pid(),
        oneNode.grpcTarget(), options.durability());
    try (DedupeDriver d = new DedupeDriver(oneNode.grpcTarget(), 1, options.namespace())) {
      d.probe();
      windowSeconds = d.stats().getWindow().getSeconds();
    }
    environment.put("window_seconds", Long.toString(windowSeconds));
    rf1 = startCluster("bench-rf1", 1, 1);
    rf3 = startCluster("bench-rf3", 3, 2);
  }

  private BenchCluster startCluster(String name, int factor, int minInsync) {
    out.printf("starting cluster %s: 3 nodes, replication factor %d, min in-sync %d ...%n", name,
        factor, minInsync);
    BenchCluster c = BenchCluster.start(name, 3, factor, minInsync, zookeeper.connectString(),
        options.durability(), options.serverJavaOptions(), options.serverSettings(),
        options.out(), options.keepData(), options.namespace());
    out.printf("  %s is up: pids %s, gRPC %s%n", name,
        String.join(" ", LongStream.of(c.pids()).mapToObj(Long::toString).toList()),
        String.join(" ", c.grpcTargets()));
    c.writeStatus(options.out().resolve("status-" + name + "-start.txt"));
    return c;
  }

  /** Every workload against every target for --warmup, unmeasured, before round 1. */
  private void warmUp() throws InterruptedException {
    if (options.warmup().isZero()) {
      return;
    }
    List<Step> pass = plan(1, suite.workloads(), targets);
    out.printf("warming up: each workload against each target for %s, unmeasured ...%n",
        human(options.warmup()));
    for (int k = 0; k < pass.size(); k++) {
      Step step = pass.get(k);
      switchRedis(step.target());
      PhaseCounter c = drive(step, seed(-1 - k), Duration.ZERO, options.warmup());
      if (c.errors() > 0) {
        out.printf("  warm-up of %s on %s: %d calls failed%n", step.workload().name(),
            step.target().name(), c.errors());
      }
    }
  }

  private void switchRedis(ReplicationTarget target) {
    if (target.isRedis() && !target.appendfsync().equals(currentAppendfsync)) {
      for (RedisDriver r : List.of(primaryDriver, replicaDriver)) {
        if (!r.setAppendfsync(target.appendfsync())) {
          throw new IllegalStateException("Redis at " + r.address()
              + " refused CONFIG SET appendfsync " + target.appendfsync());
        }
      }
      currentAppendfsync = target.appendfsync();
    }
  }

  private PhaseCounter drive(Step step, long seed, Duration warmup, Duration duration)
      throws InterruptedException {
    SuiteWorkload w = step.workload();
    ReplicationTarget t = step.target();
    if (t.isRedis()) {
      return primaryDriver.run(options.ids(), w.repeats(), seed, options.namespace(),
          windowSeconds, w.callers(), w.idsPerCall(), warmup, duration, false, Long.MAX_VALUE, 1,
          WAIT_TIMEOUT);
    }
    return ClientDriver.run(grpcTargets(t), w.idsPerCall(), options.namespace(), options.ids(),
        w.repeats(), seed, w.callers(), w.idsPerCall(), warmup, duration);
  }

  private List<String> grpcTargets(ReplicationTarget t) {
    if (t.equals(ReplicationTarget.ONE_NODE)) {
      return List.of(oneNode.grpcTarget());
    }
    return (t.replicationFactor() == 1 ? rf1 : rf3).grpcTargets();
  }

  private long[] pids(ReplicationTarget t) {
    if (t.isRedis()) {
      return new long[] {primary.pid(), replica.pid()};
    }
    if (t.equals(ReplicationTarget.ONE_NODE)) {
      return new long[] {oneNode.pid()};
    }
    return (t.replicationFactor() == 1 ? rf1 : rf3).pids();
  }

  /** Every process of this run but the measured target's: they should stand idle. */
  private long[] idlePids(ReplicationTarget measured) {
    List<Long> idle = new ArrayList<>();
    for (ReplicationTarget t : List.of(ReplicationTarget.ONE_NODE, ReplicationTarget.RF1,
        ReplicationTarget.RF3, ReplicationTarget.REDIS_ALWAYS)) {
      if (t.isRedis() != measured.isRedis() || (!t.isRedis() && !t.equals(measured))) {
        LongStream.of(pids(t)).forEach(idle::add);
      }
    }
    idle.add(zookeeper.pid());
    return idle.stream().mapToLong(Long::longValue).toArray();
  }

  private BenchResult.Measurement measure(Step step, int k) throws InterruptedException {
    ReplicationTarget target = step.target();
    SuiteWorkload w = step.workload();
    switchRedis(target);
    long[] serverPids = pids(target);
    long[] idlePids = idlePids(target);
    String busy = QuietMachine.await(options.quietWait(), serverPids, idlePids);
    if (busy != null) {
      out.println("WARNING: " + busy);
      notes.add("WARNING: round " + step.round() + ", " + w.name() + ", " + target.name() + ": "
          + busy + ".");
    }
    MeasuredCpu cpu = MeasuredCpu.after(options.warmup(), serverPids, idlePids);
    PhaseCounter counter = drive(step, seed(k), options.warmup(), options.duration());
    MeasuredCpu.Used used = cpu.stop();
    BenchResult.Phase p = counter.finish(target.name(), -1, -1, w.idsPerCall(), w.callers(),
        new CpuClock.Used(-1, 0, -1, -1));
    return new BenchResult.Measurement(step.round(), w.name(), target.name(), p.seconds(),
        p.requests(), p.ids(), p.duplicateIds(), p.errors(), p.idsPerSecond(), p.p50Millis(),
        p.p99Millis(), used.serverSeconds(), VsRedisSuite.loadAverage1m(), used.otherCpus());
  }

  private void printMeasurement(BenchResult.Measurement m) {
    out.printf(Locale.ROOT, "  %,10.0f ids/s  p50 %.3f ms  p99 %.3f ms  cpu %s µs/id  %.1f%% dup"
            + "  load %.2f  others %s CPUs%s%n",
        m.idsPerSecond(), m.p50Millis(), m.p99Millis(),
        m.serverCpuMicrosPerId() < 0 ? "?"
            : String.format(Locale.ROOT, "%.1f", m.serverCpuMicrosPerId()),
        m.ids() == 0 ? 0 : 100.0 * m.duplicateIds() / m.ids(), m.loadAverage(),
        m.otherCpus() < 0 ? "?" : String.format(Locale.ROOT, "%.2f", m.otherCpus()),
        m.errors() > 0 ? "  " + m.errors() + " calls FAILED" : "");
  }

  private void finish() {
    BenchResult result = result();
    Path json = options.out().resolve("result.json");
    result.writeTo(json);
    List<SuiteSummary.Row> rows = SuiteSummary.of(measurements);
    String report = ReplicationReport.render(facts(), suite.workloads(), targets, rows, notes);
    Path md = options.out().resolve("replication.md");
    try {
      Files.writeString(md, report);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + md, e);
    }
    out.println();
    out.print(ReplicationReport.table(suite.workloads(), targets, rows));
    out.println();
    out.print(ReplicationReport.ratios(suite.workloads(), rows));
    out.println();
    ReplicationReport.targetLines(suite.workloads(), rows).forEach(l -> out.println("* " + l));
    out.println();
    out.println("result: " + json.toAbsolutePath());
    out.println("table: " + md.toAbsolutePath());
    if (suite.writeDoc() != null) {
      DocBlock.write(suite.writeDoc(), report, DocBlock.REPLICATION_BEGIN,
          DocBlock.REPLICATION_END);
      out.println("updated: " + suite.writeDoc().toAbsolutePath() + " (between "
          + DocBlock.REPLICATION_BEGIN + " and " + DocBlock.REPLICATION_END + ")");
    }
    for (String note : notes) {
      out.println("note: " + note);
    }
  }

  private ComparisonReport.Facts facts() {
    return new ComparisonReport.Facts(environment.get("date"), suite.commandLine(),
        Runtime.getRuntime().availableProcessors(), System.getProperty("os.version"),
        environment.get("java"),
        "ZooKeeper " + environment.getOrDefault("zookeeper_version", "?") + " (one server, a"
            + " child process); Redis " + environment.getOrDefault("redis_version", "?")
            + " (two private redis-servers, a primary and its replica by replicaof, appendonly"
            + " yes, no RDB snapshots)");
  }

  private BenchResult result() {
    return new BenchResult(environment, options.describe(), List.of(), List.copyOf(notes),
        new BenchResult.Comparison(suite.rounds(),
            suite.workloads().stream().map(SuiteWorkload::name).toList(),
            targets.stream().map(ReplicationTarget::name).toList(), List.copyOf(measurements)));
  }

  private void describeMethod() {
    notes.add("dedupe: every node storage.durability " + options.durability() + ", JVM options \""
        + String.join(" ", options.serverJavaOptions()) + "\"" + (options.serverSettings().isEmpty()
            ? "" : ", settings " + String.join(" ", options.serverSettings()))
        + "; the 3-node clusters are 3 processes on 127.0.0.1 with one ZooKeeper, " + shards()
        + " shards each,"
        + " factor 1 (min in-sync 1) and factor 3 (min in-sync 2). All driven through the Java"
        + " client, which sends each id to its shard's leader: single-id calls with maxBatchIds"
        + " 1 (one request per call), batches as one call of 1,000 ids (maxBatchIds 1,000,"
        + " split by leader), on the callers' threads.");
    notes.add("Redis: SET key 1 NX EX " + windowSeconds + " on the primary, one connection per"
        + " caller, a batch is a pipeline of its commands; every call (one SET, or a pipeline)"
        + " is followed in the same round trip by WAIT 1 " + WAIT_TIMEOUT.toMillis()
        + ", which returns once the replica has acknowledged the call's writes (received and"
        + " applied; Redis 7.0 has no WAITAOF, so not necessarily on the replica's disk). A"
        + " WAIT that heard no replica counts as a failed call. appendfsync is the same on both"
        + " processes, switched with CONFIG SET.");
    notes.add("Ids: " + options.ids() + (options.ids().kind() == Workload.Shape.Kind.RANDOM
        ? " (random [A-Za-z0-9] strings of that many bytes)" : "")
        + ", fresh for each measurement; a repeat is drawn from the ids the same caller sent"
        + " earlier in the same measurement. Every server keeps the keys of earlier"
        + " measurements.");
    notes.add("Latency is per call (a client checkAndInsert; a Redis round trip with its WAIT),"
        + " closed loop. CPU per id is the user + system CPU of every process of the measured"
        + " target (3 nodes; the Redis primary and its replica) from the end of the warm-up to"
        + " the last reply, over the ids counted; ZooKeeper's is not counted (it does no"
        + " per-id work) and, with the idle targets', is in the other CPUs. Medians of "
        + suite.rounds() + " round(s); the targets' order rotates between rounds. Before round"
        + " 1, each workload ran against each target for the warm-up time, unmeasured.");
  }

  /** The nodes' shard count: 16 (storage.shards's default) unless --server-set says. */
  private String shards() {
    return options.serverSettings().stream().filter(kv -> kv.startsWith("storage.shards="))
        .reduce((a, b) -> b).map(kv -> kv.substring("storage.shards=".length())).orElse("16");
  }

  private synchronized void cleanUp() {
    if (rf3 != null) {
      rf3.close();
      rf3 = null;
    }
    if (rf1 != null) {
      rf1.close();
      rf1 = null;
    }
    if (oneNode != null) {
      oneNode.close();
      oneNode = null;
    }
    if (oneNodeDir != null && !options.keepData()) {
      ScratchDirs.delete(oneNodeDir);
      oneNodeDir = null;
    }
    if (zookeeper != null) {
      zookeeper.close();
      zookeeper = null;
      ScratchDirs.delete(zookeeperDir);
    }
    if (replica != null) {
      replica.close();
      replica = null;
    }
    if (primary != null) {
      primary.close();
      primary = null;
    }
    if (redisDir != null) {
      ScratchDirs.delete(redisDir);
      redisDir = null;
    }
  }

  private void describeEnvironment() {
    environment.put("suite", "replication");
    environment.put("date", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    environment.put("cpus", Integer.toString(Runtime.getRuntime().availableProcessors()));
    environment.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    environment.put("java", System.getProperty("java.vm.name") + " "
        + System.getProperty("java.runtime.version"));
    environment.put("zookeeper_version", zookeeperVersion());
    environment.put("load_average_at_start", Double.toString(VsRedisSuite.loadAverage1m()));
    environment.put("command", suite.commandLine());
  }

  /** ZooKeeper's version, from the name of its jar on the server's class path, or "?". */
  static String zookeeperVersion() {
    String cp = System.getProperty(EmbeddedServer.SERVER_CLASSPATH_PROPERTY,
        System.getProperty("java.class.path"));
    for (String entry : cp.split(java.io.File.pathSeparator)) {
      String file = Path.of(entry).getFileName() == null ? "" : Path.of(entry).getFileName().toString();
      if (file.startsWith("zookeeper-") && file.endsWith(".jar") && !file.startsWith("zookeeper-jute")) {
        return file.substring("zookeeper-".length(), file.length() - ".jar".length());
      }
    }
    return "?";
  }

  /** The seed of measurement k (negative k: the warm-up pass), its ids its own. */
  private long seed(int measurement) {
    return options.seed() * 1_000_003L + (measurement + 1) * 1_000L;
  }

  private static String human(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
  }
}
