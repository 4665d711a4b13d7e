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

/**
 * {@code bin/dedupe bench --vs-redis} without {@code --preload}: issue 10's comparison, measured
 * the same way every time. Each workload ({@link SuiteWorkload}) runs against the dedupe node
 * (storage.durability fsync) and against Redis with {@code appendfsync always} and with
 * {@code everysec}, in rounds; in each round every workload meets every target once, the
 * targets' order rotating ({@link SuitePlan}). The report gives the median of each figure over
 * the rounds ({@link SuiteSummary}) with the machine's load beside it.
 *
 * <p>Measurements never overlap, and each sends fresh ids (a seed of its own), so no
 * measurement's repeats are hits left by another. Both servers keep the keys of earlier
 * measurements: neither is emptied in between, so both grow alike.
 */
final class VsRedisSuite {

  private final BenchOptions options;
  private final SuiteOptions suite;
  private final PrintStream out;
  private final List<String> notes = new ArrayList<>();
  private final List<BenchResult.Measurement> measurements = new ArrayList<>();
  private final Map<String, String> environment = new LinkedHashMap<>();
  private final List<SuiteTarget> targets = new ArrayList<>();
  private EmbeddedServer server;
  private DedupeDriver dedupe;
  private RedisDriver redis;
  private RedisServer privateRedis;
  private Path redisDir;
  private Path dataDir;
  private boolean tempDataDir;
  /** An external Redis's appendfsync before the suite switched it, restored at the end. */
  private String externalAppendfsync;
  private String currentAppendfsync;
  private long windowSeconds;

  private VsRedisSuite(BenchOptions options, PrintStream out) {
    this.options = options;
    this.suite = options.suite();
    this.out = out;
  }

  /** Runs the suite; returns the exit code. Failures are exceptions, printed by {@link Main}. */
  static int run(BenchOptions options, PrintStream out, PrintStream err) {
    VsRedisSuite s = new VsRedisSuite(options, out);
    return StopsWhatItStarted.run(s::execute, s::cleanUp, err);
  }

  private void execute() throws InterruptedException {
    try {
      Files.createDirectories(options.out());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make the output directory " + options.out(), e);
    }
    describeEnvironment();
    startRedis();
    startNode();
    windowSeconds = dedupe.stats().getWindow().getSeconds();
    environment.put("window_seconds", Long.toString(windowSeconds));
    chooseTargets();
    describeMethod();
    List<SuitePlan.Step> plan = SuitePlan.of(suite.rounds(), suite.workloads(), targets);
    long perMeasurement = options.warmup().plus(options.duration()).toSeconds();
    out.printf("vs-redis suite: %d round(s) of %s against %s: %d measurements of %s + %s warm-up"
            + " (about %d min)%n", suite.rounds(),
        String.join(",", suite.workloads().stream().map(SuiteWorkload::name).toList()),
        String.join(", ", targets.stream().map(SuiteTarget::name).toList()), plan.size(),
        human(options.duration()), human(options.warmup()),
        Math.max(1, Math.round((plan.size() * (perMeasurement + 1)
            + plan.size() / suite.rounds() * options.warmup().toSeconds()) / 60.0)));
    warmUp();
    for (int k = 0; k < plan.size(); k++) {
      SuitePlan.Step step = plan.get(k);
      out.printf("round %d/%d  %-12s %-15s %s ...%n", step.round(), suite.rounds(),
          step.workload().name(), step.target().name(), step.workload().description());
      BenchResult.Measurement m = measure(step, k);
      measurements.add(m);
      printMeasurement(m);
      // After each, so that an interrupted suite leaves what it measured.
      result().writeTo(options.out().resolve("result.json"));
    }
    finish();
  }

  /** dedupe, and each Redis mode this Redis lets the suite switch to. */
  private void chooseTargets() {
    targets.add(SuiteTarget.DEDUPE);
    String configured = redis.persistence();
    currentAppendfsync = configured.replaceAll(".*appendfsync=", "").trim();
    boolean aof = configured.contains("appendonly=yes");
    if (privateRedis == null) {
      externalAppendfsync = currentAppendfsync;
    }
    // Try both ways, so that the suite never starts against a mode it could not leave.
    boolean always = aof && redis.setAppendfsync("always");
    if (always) {
      currentAppendfsync = "always";
    }
    if (always && redis.setAppendfsync("everysec")) {
      currentAppendfsync = "everysec";
      targets.add(SuiteTarget.redis("always"));
      targets.add(SuiteTarget.redis("everysec"));
      return;
    }
    String mode = !aof ? "no-aof" : currentAppendfsync.equals("unknown") ? "as-configured"
        : currentAppendfsync;
    targets.add(new SuiteTarget("redis-" + mode, "Redis " + mode, currentAppendfsync));
    String msg = aof
        ? "Redis at " + redis.address() + " refused CONFIG SET appendfsync: measured only as it"
            + " is configured (appendfsync " + currentAppendfsync + ")"
        : "WARNING: Redis at " + redis.address() + " writes no AOF (appendonly no): it keeps"
            + " nothing across a crash; measured as it is";
    out.println(msg);
    notes.add(msg + ".");
  }

  /**
   * Runs every workload against every target once for --warmup, unmeasured, before the first
   * round: the node and this client are fresh JVMs that compile their hot paths in their first
   * seconds, which would otherwise land in round 1's first measurements.
   */
  private void warmUp() throws InterruptedException {
    if (options.warmup().isZero()) {
      return;
    }
    List<SuitePlan.Step> pass = SuitePlan.of(1, suite.workloads(), targets);
    out.printf("warming up: each workload against each target for %s, unmeasured ...%n",
        human(options.warmup()));
    for (int k = 0; k < pass.size(); k++) {
      SuitePlan.Step step = pass.get(k);
      switchRedis(step.target());
      drive(step, seed(-1 - k), Duration.ZERO, options.warmup());
    }
  }

  private void switchRedis(SuiteTarget target) {
    if (target.isRedis() && !target.appendfsync().equals(currentAppendfsync)) {
      if (!redis.setAppendfsync(target.appendfsync())) {
        throw new IllegalStateException("Redis refused CONFIG SET appendfsync "
            + target.appendfsync() + " in the middle of the suite");
      }
      currentAppendfsync = target.appendfsync();
    }
  }

  /** Sends the step's workload to its target: {@code warmup} uncounted, then {@code duration}. */
  private PhaseCounter drive(SuitePlan.Step step, long seed, Duration warmup, Duration duration)
      throws InterruptedException {
    SuiteWorkload w = step.workload();
    if (w.viaClient()) {
      return ClientDriver.run(dedupe.target(), options.namespace(), options.ids(), w.repeats(),
          seed, w.callers(), warmup, duration);
    }
    if (step.target().isRedis()) {
      return redis.run(options.ids(), w.repeats(), seed, options.namespace(), windowSeconds,
          w.callers(), w.idsPerCall(), warmup, duration, false, Long.MAX_VALUE);
    }
    return dedupe.run(new Workload(options.ids(), w.repeats(), seed), w.idsPerCall(),
        w.callers(), warmup, duration, false, Long.MAX_VALUE);
  }

  private BenchResult.Measurement measure(SuitePlan.Step step, int k)
      throws InterruptedException {
    SuiteTarget target = step.target();
    SuiteWorkload w = step.workload();
    switchRedis(target);
    long serverPid = target.isRedis() ? pid(privateRedis) : server == null ? -1 : server.pid();
    long idlePid = target.isRedis() ? (server == null ? -1 : server.pid()) : pid(privateRedis);
    String busy = QuietMachine.await(options.quietWait(), serverPid, idlePid);
    if (busy != null) {
      out.println("WARNING: " + busy);
      notes.add("WARNING: round " + step.round() + ", " + w.name() + ", " + target.name() + ": "
          + busy + ".");
    }
    long seed = seed(k);
    MeasuredCpu cpu = MeasuredCpu.after(options.warmup(), serverPid, idlePid,
        target.isRedis() && privateRedis == null ? redis::cpuSeconds : () -> -1);
    PhaseCounter counter = drive(step, seed, options.warmup(), options.duration());
    MeasuredCpu.Used used = cpu.stop();
    BenchResult.Phase p = counter.finish(target.name(), -1, -1, w.idsPerCall(), w.callers(),
        new CpuClock.Used(-1, 0, -1, -1));
    return new BenchResult.Measurement(step.round(), w.name(), target.name(), p.seconds(),
        p.requests(), p.ids(), p.duplicateIds(), p.errors(), p.idsPerSecond(), p.p50Millis(),
        p.p99Millis(), used.serverSeconds(), loadAverage1m(), used.otherCpus());
  }

  private void printMeasurement(BenchResult.Measurement m) {
    out.printf(Locale.ROOT, "  %,10.0f ids/s  p50 %.3f ms  p99 %.3f ms  cpu %s µs/id  %.1f%% dup"
            + "  load %.2f  others %s CPUs%s%n",
        m.idsPerSecond(), m.p50Millis(), m.p99Millis(),
        m.serverCpuMicrosPerId() < 0 ? "?" : String.format(Locale.ROOT, "%.1f", m.serverCpuMicrosPerId()),
        m.ids() == 0 ? 0 : 100.0 * m.duplicateIds() / m.ids(), m.loadAverage(),
        m.otherCpus() < 0 ? "?" : String.format(Locale.ROOT, "%.2f", m.otherCpus()),
        m.errors() > 0 ? "  " + m.errors() + " calls FAILED" : "");
  }

  private void finish() {
    restoreExternalRedis();
    BenchResult result = result();
    Path json = options.out().resolve("result.json");
    result.writeTo(json);
    String report = ComparisonReport.render(facts(), suite.workloads(), targets,
        SuiteSummary.of(measurements), notes);
    Path md = options.out().resolve("comparison.md");
    try {
      Files.writeString(md, report);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + md, e);
    }
    out.println();
    out.print(ComparisonReport.table(suite.workloads(), targets, SuiteSummary.of(measurements)));
    String client = ComparisonReport.clientLine(suite.workloads(), SuiteSummary.of(measurements));
    if (client != null) {
      out.println();
      out.println(client);
    }
    out.println();
    out.println("result: " + json.toAbsolutePath());
    out.println("table: " + md.toAbsolutePath());
    if (suite.writeDoc() != null) {
      DocBlock.write(suite.writeDoc(), report);
      out.println("updated: " + suite.writeDoc().toAbsolutePath() + " (between " + DocBlock.BEGIN
          + " and " + DocBlock.END + ")");
    }
    for (String note : notes) {
      out.println("note: " + note);
    }
  }

  private ComparisonReport.Facts facts() {
    return new ComparisonReport.Facts(environment.get("date"), suite.commandLine(),
        Runtime.getRuntime().availableProcessors(), System.getProperty("os.version"),
        environment.get("java"),
        "Redis " + environment.getOrDefault("redis_version", "?") + " ("
            + (privateRedis != null ? "private redis-server, appendonly yes, no RDB snapshots"
                : "at " + redis.address()) + ")");
  }

  private BenchResult result() {
    return new BenchResult(environment, options.describe(), List.of(), List.copyOf(notes),
        new BenchResult.Comparison(suite.rounds(),
            suite.workloads().stream().map(SuiteWorkload::name).toList(),
            targets.stream().map(SuiteTarget::name).toList(), List.copyOf(measurements)));
  }

  private void describeMethod() {
    notes.add("dedupe: the node " + (server == null ? "at " + options.target()
        : "this run started, storage.durability " + options.durability()) + "; one gRPC"
        + " connection, the callers' requests in flight on it. Redis: SET key 1 NX EX "
        + windowSeconds + ", one connection per caller, a batch is a pipeline of its commands.");
    notes.add("Ids: " + options.ids() + (options.ids().kind() == Workload.Shape.Kind.RANDOM
        ? " (random [A-Za-z0-9] strings of that many bytes)" : "")
        + ", fresh for each measurement; a repeat is drawn from the ids the same caller sent"
        + " earlier in the same measurement. Both servers keep the keys of earlier measurements.");
    notes.add("Latency is per call (a request, a pipeline, a client checkAndInsert), closed loop;"
        + " CPU per id is the measured server's user + system CPU from the end of the warm-up"
        + " to the last reply, over the ids counted. Medians of " + suite.rounds()
        + " round(s); the targets' order rotates between rounds. Before round 1, each workload"
        + " ran against each target for the warm-up time, unmeasured.");
  }

  private void startRedis() {
    if (options.vsRedis().equals("start")) {
      Optional<Path> executable = RedisServer.find();
      if (executable.isEmpty()) {
        throw new IllegalStateException("the --vs-redis suite needs redis-server on the PATH"
            + " (Debian: apt-get install redis-server), or --vs-redis HOST:PORT");
      }
      redisDir = ScratchDirs.create("dedupe-bench-redis");
      privateRedis = RedisServer.start(executable.get(), redisDir, options.out().resolve("redis.log"));
      redis = new RedisDriver("127.0.0.1", privateRedis.port());
      out.println("started a private redis-server (pid " + privateRedis.pid() + ") on "
          + redis.address() + " (" + RedisServer.PERSISTENCE + ", data in " + redisDir + ")");
    } else {
      redis = RedisDriver.at(options.vsRedis());
    }
    environment.put("redis_version", redis.info("server").getOrDefault("redis_version", "?"));
    environment.put("redis_persistence", redis.persistence());
  }

  private void startNode() {
    if (options.target() != null) {
      dedupe = new DedupeDriver(options.target(), options.channels(), options.namespace());
      dedupe.probe();
      notes.add("Remote node " + options.target() + ": its CPU is not visible from here.");
      return;
    }
    if (options.dataDir() != null) {
      dataDir = options.dataDir();
    } else {
      dataDir = ScratchDirs.create("dedupe-bench-data");
      tempDataDir = !options.keepData();
    }
    server = EmbeddedServer.start(dataDir, options.durability(), options.serverJavaOptions(),
        options.serverSettings(), options.out().resolve("server.log"));
    out.printf("started a dedupe node (pid %d) on %s, data in %s, durability %s%n",
        server.pid(), server.grpcTarget(), dataDir, options.durability());
    dedupe = new DedupeDriver(server.grpcTarget(), options.channels(), options.namespace());
    dedupe.probe();
  }

  private void restoreExternalRedis() {
    if (redis != null && privateRedis == null && externalAppendfsync != null
        && !externalAppendfsync.equals(currentAppendfsync)) {
      redis.setAppendfsync(externalAppendfsync);
      currentAppendfsync = externalAppendfsync;
    }
  }

  private synchronized void cleanUp() {
    try {
      restoreExternalRedis();
    } catch (RuntimeException e) {
      // best effort: the external Redis may be gone
    }
    if (dedupe != null) {
      dedupe.close();
      dedupe = null;
    }
    if (server != null) {
      server.close();
      server = null;
    }
    if (privateRedis != null) {
      privateRedis.close();
      privateRedis = null;
      ScratchDirs.delete(redisDir);
    }
    if (tempDataDir && dataDir != null) {
      ScratchDirs.delete(dataDir);
      dataDir = null;
    }
  }

  private void describeEnvironment() {
    environment.put("date", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    environment.put("cpus", Integer.toString(Runtime.getRuntime().availableProcessors()));
    environment.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    environment.put("java", System.getProperty("java.vm.name") + " "
        + System.getProperty("java.runtime.version"));
    environment.put("load_average_at_start", Double.toString(loadAverage1m()));
    environment.put("command", suite.commandLine());
  }

  /** The seed of measurement k (negative k: the warm-up pass), its ids its own. */
  private long seed(int measurement) {
    // Apart by more than the callers of a measurement, each of which adds its index.
    return options.seed() * 1_000_003L + (measurement + 1) * 1_000L;
  }

  private static long pid(RedisServer r) {
    return r == null ? -1 : r.pid();
  }

  /** The 1-minute load average, or -1 when /proc does not say. */
  static double loadAverage1m() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private static String human(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
  }
}
