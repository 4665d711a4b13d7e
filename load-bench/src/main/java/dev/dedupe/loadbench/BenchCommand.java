package dev.dedupe.loadbench;

import dev.dedupe.v1.GetNamespaceStatsResponse;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToLongFunction;

/**
 * {@code bin/dedupe bench}: measures batched CheckAndInsert on a node (one it starts, or a
 * running one), at each preloaded stored-key count, optionally against Redis in the same run,
 * and writes the figures as a table, a JSON result file and SVG charts. With --vs-redis and no
 * --preload, the comparison suite runs instead ({@link VsRedisSuite}).
 *
 * <p>Runs never overlap: the node and Redis are measured one after the other, so on a small
 * machine they do not take CPU from each other. The client runs on the same machine as the
 * servers and takes its share of CPU; each run reports the CPU seconds of both sides.
 */
public final class BenchCommand {

  private final BenchOptions options;
  private final PrintStream out;
  private final List<String> notes = new ArrayList<>();
  private final List<BenchResult.Step> steps = new ArrayList<>();
  private final Map<String, String> environment = new LinkedHashMap<>();
  private EmbeddedServer server;
  private DedupeDriver dedupe;
  private RedisDriver redis;
  private RedisServer privateRedis;
  /** The private Redis's AOF directory, removed at the end (it holds every key). */
  private Path redisDir;
  private Path dataDir;
  private boolean tempDataDir;
  private int serverStarts;

  private BenchCommand(BenchOptions options, PrintStream out) {
    this.options = options;
    this.out = out;
  }

  /**
   * Runs the command with checked options; returns the exit code. Failures are exceptions,
   * which {@link Main} prints as one line.
   */
  static int run(BenchOptions options, PrintStream out, PrintStream err) {
    if (!options.chartsFrom().isEmpty()) {
      return drawCharts(options, out);
    }
    if (options.suite() != null) {
      return VsRedisSuite.run(options, out, err);
    }
    if (options.replication() != null) {
      return ReplicationSuite.run(options, out, err);
    }
    BenchCommand command = new BenchCommand(options, out);
    return StopsWhatItStarted.run(command::execute, command::cleanUp, err);
  }

  private void execute() throws InterruptedException {
    try {
      Files.createDirectories(options.out());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make the output directory " + options.out(), e);
    }
    describeEnvironment();
    out.println("dedupe bench: " + options.describe());
    startRedis();
    startNode(options.durability());
    GetNamespaceStatsResponse first = dedupe.stats();
    long windowSeconds = first.getWindow().getSeconds();
    environment.put("window_seconds", Long.toString(windowSeconds));
    notes.add("Client and servers share one machine (" + environment.get("cpus")
        + " CPUs); each run reports the CPU seconds the server and the client used.");
    notes.add("Latency is per request (a batch of " + options.batch() + " ids"
        + (redis == null ? "" : "; for Redis a pipeline of " + options.redisPipeline() + " commands")
        + "), measured closed-loop with " + options.concurrency() + " requests in flight.");
    if (!options.preloadDurability().equals(options.durability())) {
      notes.add("PRELOAD used storage.durability=" + options.preloadDurability()
          + " (the WAL is not synced per write); every measured run used "
          + options.durability() + ".");
    }
    List<Long> sizes = options.preload().isEmpty() ? List.of(0L) : options.preload();
    for (int k = 0; k < sizes.size(); k++) {
      long size = sizes.get(k);
      if (size > 0) {
        preload(size, k, windowSeconds);
        settle();
      }
      BenchResult.Phase d = null;
      for (int attempt = 0; d == null || busy(d) && attempt <= options.busyRetries(); attempt++) {
        if (d != null) {
          out.printf("other processes took %.2f CPUs during that run: measuring again%n", busyCpus(d));
        }
        BenchResult.Phase next = measureDedupe(k, attempt);
        d = d == null || busyCpus(next) < busyCpus(d) ? next : d;
      }
      BenchResult.ServerFigures figures = serverFigures(d);
      BenchResult.Phase r = null;
      BenchResult.RedisFigures rf = null;
      if (redis != null && size <= options.redisMaxKeys()) {
        for (int attempt = 0; r == null || busy(r) && attempt <= options.busyRetries(); attempt++) {
          if (r != null) {
            out.printf("other processes took %.2f CPUs during that run: measuring again%n", busyCpus(r));
          }
          long forksBefore = longOf(redis.info("stats"), "total_forks");
          BenchResult.Phase next = measureRedis(k, attempt, windowSeconds);
          if (r == null || busyCpus(next) < busyCpus(r)) {
            r = next;
            Map<String, String> memory = redis.info("memory");
            rf = new BenchResult.RedisFigures(r.keysAfter(), longOf(memory, "used_memory"),
                longOf(memory, "used_memory_rss"),
                longOf(redis.info("stats"), "total_forks") - forksBefore, redis.persistence());
          }
        }
      }
      // Last, so that the restart's start-up work lands in no measured run.
      long[] fresh = freshMemory();
      figures = figures.withFresh(fresh[0], fresh[1]);
      BenchResult.Step step = new BenchResult.Step(size, d, r, figures, rf);
      steps.add(step);
      printStep(step, k == 0 ? null : steps.get(k - 1));
      result().writeTo(options.out().resolve("result.json"));
    }
    finish();
  }

  private void preload(long size, int k, long windowSeconds) throws InterruptedException {
    long held = dedupe.stats().getKeysHeld();
    if (size > held) {
      boolean switchDurability = server != null
          && !options.preloadDurability().equals(server.durability());
      if (switchDurability) {
        restartNode(options.preloadDurability());
      }
      long count = size - held;
      out.printf("preloading dedupe: %,d keys (%,d held) in batches of %,d, %d in flight,"
              + " durability %s ...%n", count, held, options.preloadBatch(),
          options.preloadInFlight(), server == null ? "(as configured on the node)" : server.durability());
      long t = System.nanoTime();
      double rate = dedupe.preload(new Workload(options.ids(), 0, seed(k, 0)), count,
          options.preloadBatch(), options.preloadInFlight(), preloadLimit(count));
      out.printf("  stored %,d keys in %.1f s: %,.0f ids/s%n", count, (System.nanoTime() - t) / 1e9, rate);
      notes.add(String.format(Locale.ROOT, "Preload to %,d: %,d keys at %,.0f ids/s (durability %s).",
          size, count, rate, server == null ? "as configured" : server.durability()));
      if (switchDurability) {
        restartNode(options.durability());
      }
    }
    if (redis != null && size > options.redisMaxKeys()) {
      String msg = String.format(Locale.ROOT, "Redis was not run at %,d keys (--redis-max-keys %,d).",
          size, options.redisMaxKeys());
      out.println(msg);
      notes.add(msg);
    } else if (redis != null) {
      long redisHeld = redis.dbSize();
      if (size > redisHeld) {
        long count = size - redisHeld;
        out.printf("preloading redis: %,d keys ...%n", count);
        long t = System.nanoTime();
        double rate = redis.preload(options.ids(), seed(k, 1), options.namespace(), windowSeconds,
            count, options.redisConnections(), preloadLimit(count));
        out.printf("  stored %,d keys in %.1f s: %,.0f keys/s%n", count, (System.nanoTime() - t) / 1e9, rate);
      }
    }
  }

  /**
   * Lets the node catch up after a preload: at least --settle, then, up to --settle-max, until
   * compaction has less than 64 MiB left to rewrite. A preload stores keys faster than steady
   * traffic would, so without this the next run would also pay the preload's compaction.
   */
  private void settle() throws InterruptedException {
    out.printf("settling for %s", human(options.settle()));
    Thread.sleep(options.settle().toMillis());
    long deadline = System.nanoTime() + options.settleMax().toNanos();
    long pending = OpsMetrics.scrape(opsAddress()).value("dedupe_rocksdb_pending_compaction_bytes");
    long limit = 64L << 20;
    if (pending > limit) {
      out.printf(", then until compaction catches up (%s pending)", mib(pending));
    }
    while (pending > limit && System.nanoTime() < deadline) {
      Thread.sleep(5_000);
      pending = OpsMetrics.scrape(opsAddress()).value("dedupe_rocksdb_pending_compaction_bytes");
    }
    out.printf("; %s of compaction pending%n", mib(pending));
    if (pending > limit) {
      notes.add("Compaction had not caught up after the preload (" + mib(pending)
          + " pending after --settle-max " + human(options.settleMax()) + ").");
    }
  }

  /** A preload may take as long as storing at 2,000 ids/s would, plus a minute. */
  private static Duration preloadLimit(long count) {
    return Duration.ofSeconds(60 + count / 2_000);
  }

  /**
   * Waits, up to --quiet-wait, until processes other than this run's use less than a tenth of
   * a CPU, so that a build or test run elsewhere on a small machine does not land in the
   * figures; says so when it gives up. Each run still reports the CPU others took during it.
   */
  private void awaitQuietMachine() throws InterruptedException {
    String warning = QuietMachine.await(options.quietWait(), server == null ? -1 : server.pid(),
        privateRedis == null ? -1 : privateRedis.pid());
    if (warning != null) {
      out.println("WARNING: " + warning);
      notes.add("WARNING: " + warning + ".");
    }
  }

  /** CPUs that other processes took on average during a run, or 0 when not known. */
  private double busyCpus(BenchResult.Phase p) {
    double window = p.seconds() + options.warmup().toMillis() / 1000.0;
    return p.otherCpuSeconds() < 0 ? 0 : p.otherCpuSeconds() / window;
  }

  private boolean busy(BenchResult.Phase p) {
    return busyCpus(p) > 0.2;
  }

  private BenchResult.Phase measureRedis(int k, int attempt, long windowSeconds)
      throws InterruptedException {
    awaitQuietMachine();
    long keysBefore = redis.dbSize();
    CpuClock cpu = new CpuClock(privateRedis == null ? -1 : privateRedis.pid(),
        server == null ? -1 : server.pid());
    out.printf("redis:  %s connections x pipelines of %d for %s ...%n",
        options.redisConnections(), options.redisPipeline(), human(options.duration()));
    PhaseCounter c = redis.run(options.ids(), options.duplicates(), seed(k, 2 + 10 * attempt),
        options.namespace(), windowSeconds, options.redisConnections(), options.redisPipeline(),
        options.warmup(), options.duration(), false, Long.MAX_VALUE);
    return c.finish("redis", keysBefore, redis.dbSize(), options.redisPipeline(),
        options.redisConnections(), cpu.used());
  }

  private BenchResult.Phase measureDedupe(int k, int attempt) throws InterruptedException {
    awaitQuietMachine();
    long keysBefore = dedupe.stats().getKeysHeld();
    CpuClock cpu = new CpuClock(server == null ? -1 : server.pid(),
        privateRedis == null ? -1 : privateRedis.pid());
    opsBefore = OpsMetrics.scrape(opsAddress());
    out.printf("dedupe: batches of %,d, %d in flight, %s duplicates, %s ids, for %s after %s warm-up"
            + " (%,d keys held; load average %s) ...%n",
        options.batch(), options.concurrency(), percent(options.duplicates()), options.ids(),
        human(options.duration()), human(options.warmup()), keysBefore, loadAverage());
    PhaseCounter c = dedupe.run(
        new Workload(options.ids(), options.duplicates(), seed(k, 3 + 10 * attempt)),
        options.batch(), options.concurrency(), options.warmup(), options.duration(), false,
        Long.MAX_VALUE);
    CpuClock.Used used = cpu.used();
    return c.finish("dedupe", keysBefore, dedupe.stats().getKeysHeld(), options.batch(),
        options.concurrency(), used);
  }

  private OpsMetrics opsBefore;

  private BenchResult.ServerFigures serverFigures(BenchResult.Phase d) {
    GetNamespaceStatsResponse stats = dedupe.stats();
    OpsMetrics after = OpsMetrics.scrape(opsAddress());
    return new BenchResult.ServerFigures(
        stats.getKeysHeld(), stats.getBytesHeld(),
        server == null ? -1 : server.sstBytes(),
        server == null ? -1 : server.walBytes(),
        server == null ? -1 : server.residentBytes(),
        after.value("jvm_memory_committed_bytes", "area", "heap"),
        after.value("dedupe_rocksdb_block_cache_bytes"),
        after.value("dedupe_rocksdb_memtable_bytes"),
        delta(after, m -> m.value("dedupe_rocksdb_compaction_write_bytes_total")),
        delta(after, m -> m.micros("dedupe_rocksdb_stall_seconds_total")),
        delta(after, m -> m.value("dedupe_rocksdb_wal_syncs_total")), -1, -1);
  }

  /**
   * Resident memory of the started node just after a restart: {RSS, RSS minus heap and block
   * cache}, or {-1, -1} for a remote node. A process that has run a while keeps freed native
   * memory (malloc arenas, memtables flushed since) in its RSS; a fresh one holds what the
   * stored keys really cost (filters and indexes of the table files) plus constants.
   */
  private long[] freshMemory() {
    if (server == null) {
      return new long[] {-1, -1};
    }
    restartNode(server.durability());
    EmbeddedServer.sleep(3_000);
    dedupe.probe();
    long rss = server.residentBytes();
    OpsMetrics m = OpsMetrics.scrape(opsAddress());
    long heap = m.value("jvm_memory_committed_bytes", "area", "heap");
    long cache = m.value("dedupe_rocksdb_block_cache_bytes");
    return new long[] {rss, rss < 0 || heap < 0 || cache < 0 ? -1 : rss - heap - cache};
  }

  private long delta(OpsMetrics after, ToLongFunction<OpsMetrics> read) {
    long a = read.applyAsLong(after);
    long b = opsBefore == null ? -1 : read.applyAsLong(opsBefore);
    return a < 0 || b < 0 ? -1 : a - b;
  }

  private void printStep(BenchResult.Step step, BenchResult.Step previous) {
    BenchResult.Phase d = step.dedupe();
    BenchResult.ServerFigures f = step.server();
    out.println();
    out.printf("== %s stored keys (preload target %s) ==%n", count(d.keysBefore()), count(step.targetKeys()));
    out.printf("%-8s %12s %9s %9s %9s %9s %8s %8s %8s %8s%n", "system", "ids/s", "p50 ms",
        "p99 ms", "p99.9 ms", "max ms", "dup", "srv cpu", "cli cpu", "other");
    printPhase(d);
    if (step.redis() != null) {
      printPhase(step.redis());
      out.printf("dedupe / redis throughput: %.2fx%n", step.ratio());
    }
    out.printf("dedupe disk: %.1f bytes/key (server figure, table files + WAL); table files alone"
            + " %s bytes/key; WAL %s%n",
        f.diskBytesPerKey(), f.sstBytesPerKey() < 0 ? "?" : String.format(Locale.ROOT, "%.1f", f.sstBytesPerKey()),
        f.walBytes() < 0 ? "?" : mib(f.walBytes()));
    out.printf("dedupe memory: RSS %s, heap committed %s, block cache (with memtables) %s,"
            + " other %s%n", mib(f.rssBytes()), mib(f.heapCommittedBytes()), mib(f.blockCacheBytes()),
        mib(f.residentBeyondCaches()));
    if (f.freshRssBytes() >= 0) {
      out.printf("dedupe memory after a restart: RSS %s, beyond heap and block cache %s%n",
          mib(f.freshRssBytes()), mib(f.freshBeyondCachesBytes()));
    }
    if (previous != null && f.freshBeyondCachesBytes() >= 0
        && previous.server().freshBeyondCachesBytes() >= 0) {
      long keys = f.keysHeld() - previous.server().keysHeld();
      long bytes = f.freshBeyondCachesBytes() - previous.server().freshBeyondCachesBytes();
      out.printf("dedupe memory growth beyond heap and caches (after restarts) since the previous"
          + " size: %s over %,d keys = %.2f bytes/key%n", mib(bytes), keys,
          keys == 0 ? 0 : bytes / (double) keys);
    }
    out.printf("dedupe during the run: compaction wrote %s, write stalls %s ms, %s WAL syncs%n",
        mib(f.compactionWriteBytes()), f.stallMicros() < 0 ? "?" : f.stallMicros() / 1000,
        f.walSyncs() < 0 ? "?" : String.format(Locale.ROOT, "%,d", f.walSyncs()));
    if (step.redisFigures() != null) {
      BenchResult.RedisFigures rf = step.redisFigures();
      out.printf("redis memory: used_memory %s for %,d keys = %.1f bytes/key (RSS %s); %d forks"
              + " (AOF rewrites) during the run; %s%n",
          mib(rf.usedMemoryBytes()), rf.keys(), rf.usedMemoryPerKey(), mib(rf.rssBytes()),
          rf.forksDuringRun(), rf.persistence());
    }
    out.println();
  }

  private void printPhase(BenchResult.Phase p) {
    out.printf(Locale.ROOT, "%-8s %,12.0f %9.3f %9.3f %9.3f %9.3f %7.2f%% %7.1fs %7.1fs %7.1fs%n",
        p.system(), p.idsPerSecond(), p.p50Millis(), p.p99Millis(), p.p999Millis(), p.maxMillis(),
        p.duplicateShare() * 100, p.serverCpuSeconds(), p.clientCpuSeconds(), p.otherCpuSeconds());
    if (p.errors() > 0) {
      out.printf("  %,d requests FAILED%n", p.errors());
    }
  }

  /** Draws the charts of one or more result files, their steps merged by stored keys. */
  private static int drawCharts(BenchOptions options, PrintStream out) {
    List<BenchResult> results = options.chartsFrom().stream().map(BenchResult::readFrom).toList();
    List<BenchResult.Step> merged = new ArrayList<>();
    results.forEach(r -> merged.addAll(r.steps()));
    merged.sort(Comparator.comparingLong(st -> st.dedupe().keysBefore()));
    BenchResult first = results.get(0);
    writeCharts(new BenchResult(first.environment(), first.settings(), merged, first.notes()),
        options.svgDir(), out);
    return 0;
  }

  private static void writeCharts(BenchResult result, Path dir, PrintStream out) {
    for (Map.Entry<String, String> chart : Charts.render(result).entrySet()) {
      Path file = dir.resolve(chart.getKey());
      try {
        Files.createDirectories(dir);
        Files.writeString(file, chart.getValue());
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + file, e);
      }
      out.println("chart: " + file.toAbsolutePath());
    }
  }

  private void finish() {
    BenchResult result = result();
    Path json = options.out().resolve("result.json");
    result.writeTo(json);
    out.println("result: " + json.toAbsolutePath());
    writeCharts(result, options.svgDir(), out);
    for (String note : notes) {
      out.println("note: " + note);
    }
  }

  private BenchResult result() {
    return new BenchResult(environment, options.describe(), List.copyOf(steps), List.copyOf(notes));
  }

  private void startRedis() {
    if (options.vsRedis() == null) {
      return;
    }
    if (options.vsRedis().equals("start")) {
      Optional<Path> executable = RedisServer.find();
      if (executable.isEmpty()) {
        String msg = "Redis comparison SKIPPED: redis-server is not on the PATH"
            + " (Debian: apt-get install redis-server)";
        out.println(msg);
        notes.add(msg);
        return;
      }
      Path dir = ScratchDirs.create("dedupe-bench-redis");
      redisDir = dir;
      privateRedis = RedisServer.start(executable.get(), dir, options.out().resolve("redis.log"));
      redis = new RedisDriver("127.0.0.1", privateRedis.port());
      out.println("started a private redis-server on " + redis.address() + " (" + RedisServer.PERSISTENCE
          + ", data in " + dir + ")");
    } else {
      redis = RedisDriver.at(options.vsRedis());
    }
    String persistence = redis.persistence();
    environment.put("redis_version", redis.info("server").getOrDefault("redis_version", "?"));
    environment.put("redis_persistence", persistence);
    notes.add("Redis ran with " + persistence + (privateRedis != null ? ", no RDB snapshots" : "")
        + "; SET key 1 NX EX <window>, " + options.redisConnections() + " connections x pipelines of "
        + options.redisPipeline() + ".");
    if (!persistence.contains("appendonly=yes")) {
      notes.add("WARNING: this Redis does not write an AOF: it keeps nothing across a crash.");
    }
  }

  private void startNode(String durability) {
    if (options.target() != null) {
      dedupe = new DedupeDriver(options.target(), options.channels(), options.namespace());
      dedupe.probe();
      notes.add("Remote node " + options.target() + ": its resident memory and file sizes are not"
          + " visible from here; memory figures come from its ops port.");
      return;
    }
    if (dataDir == null) {
      if (options.dataDir() != null) {
        dataDir = options.dataDir();
      } else {
        dataDir = ScratchDirs.create("dedupe-bench-data");
        tempDataDir = !options.keepData();
      }
    }
    server = EmbeddedServer.start(dataDir, durability, options.serverJavaOptions(),
        options.serverSettings(), options.out().resolve("server.log"));
    serverStarts++;
    out.printf("started a dedupe node (pid %d) on %s, data in %s, durability %s%n",
        server.pid(), server.grpcTarget(), dataDir, durability);
    dedupe = new DedupeDriver(server.grpcTarget(), options.channels(), options.namespace());
    dedupe.probe();
  }

  private void restartNode(String durability) {
    dedupe.close();
    server.close();
    out.printf("restarting the node with durability %s%n", durability);
    startNode(durability);
  }

  private String opsAddress() {
    return server != null ? server.opsAddress() : options.ops();
  }

  private synchronized void cleanUp() {
    if (dedupe != null) {
      dedupe.close();
    }
    if (server != null) {
      server.close();
    }
    if (privateRedis != null) {
      privateRedis.close();
      ScratchDirs.delete(redisDir);
    }
    if (tempDataDir && dataDir != null) {
      ScratchDirs.delete(dataDir);
    }
  }

  private void describeEnvironment() {
    environment.put("date", Instant.now().toString());
    environment.put("cpus", Integer.toString(Runtime.getRuntime().availableProcessors()));
    environment.put("memory", meminfo());
    environment.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    environment.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
    environment.put("load_average_at_start", loadAverage());
  }

  private static String meminfo() {
    try {
      return Files.readAllLines(Path.of("/proc/meminfo")).get(0).replaceAll("\\s+", " ");
    } catch (IOException | RuntimeException e) {
      return "?";
    }
  }

  private static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "?";
    }
  }

  private long seed(int step, int use) {
    return options.seed() * 1_000_003L + step * 101L + use * 10_007L;
  }

  private static long longOf(Map<String, String> values, String key) {
    try {
      return Long.parseLong(values.getOrDefault(key, "-1"));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  static String count(long n) {
    if (n >= 1_000_000_000 && n % 1_000_000 == 0) {
      return String.format(Locale.ROOT, "%.1fG", n / 1e9);
    }
    if (n >= 1_000_000) {
      return String.format(Locale.ROOT, "%.2fM", n / 1e6);
    }
    if (n >= 1_000) {
      return String.format(Locale.ROOT, "%.1fk", n / 1e3);
    }
    return Long.toString(n);
  }

  private static String mib(long bytes) {
    return bytes == -1 ? "?" : String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
  }

  private static String percent(double ratio) {
    return String.format(Locale.ROOT, "%.2f%%", ratio * 100);
  }

  private static String human(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
  }
}
