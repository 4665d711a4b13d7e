package dev.dedupe.loadbench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The options of {@code bin/dedupe bench}, parsed and checked. See {@link #USAGE}.
 */
record BenchOptions(
    String target,
    String ops,
    Path dataDir,
    boolean keepData,
    String durability,
    String preloadDurability,
    List<Long> preload,
    int preloadBatch,
    int preloadInFlight,
    int batch,
    int concurrency,
    int channels,
    double duplicates,
    Workload.Shape ids,
    Duration duration,
    Duration warmup,
    Duration settle,
    Duration settleMax,
    Duration quietWait,
    int busyRetries,
    String namespace,
    String vsRedis,
    int redisConnections,
    int redisPipeline,
    long redisMaxKeys,
    Path out,
    Path svgDir,
    List<String> serverJavaOptions,
    List<String> serverSettings,
    long seed,
    List<Path> chartsFrom) {

  static final String USAGE = """
      usage: bin/dedupe bench [OPTIONS]

      Measures batched CheckAndInsert: ids per second and request latency (p50, p99, p99.9),
      optionally at several stored-key counts and against Redis, and writes result.json (and
      SVG charts) to the output directory.

      The node:
        --target HOST:PORT       drive a running node (default: start one, as a child process)
        --ops HOST:PORT          its ops port, for memory and compaction figures (default HOST:8081)
        --data-dir DIR           the started node's data (default: a temporary directory, removed)
        --keep-data              keep the started node's data directory
        --durability MODE        the started node's storage.durability while measuring
                                 (fsync, the default, or risk-power-loss)
        --server-java-opts OPTS  JVM options of the started node (default "-Xms1g -Xmx1g
                                 -XX:+AlwaysPreTouch": a heap of constant resident size)
        --server-set KEY=VALUE   a setting of the started node (repeatable)
      The workload:
        --batch N                ids per request (default 1000)
        --concurrency N          requests in flight (default 4)
        --channels N             gRPC connections (default 1)
        --duplicates RATIO       share of ids that repeat an earlier id (default 0.006; 50% works)
        --ids SHAPE              uuid (default), counter or random:LENGTH
        --duration TIME          measured time per run (default 20s)
        --warmup TIME            unmeasured time before it (default 5s)
        --namespace NS           (default bench)
        --seed N                 fixes the ids (default 1)
      Growth:
        --preload N[,N...]       store this many keys before measuring, and measure again at each
                                 size (counts take k, M, G: 1M,10M,100M)
        --preload-batch N        ids per preload request (default 10000)
        --preload-in-flight N    preload requests in flight (default 8)
        --preload-durability M   the started node's durability while preloading (default: as
                                 --durability; risk-power-loss preloads faster, and is reported)
        --settle TIME            pause between preloading and measuring (default 5s), then
        --settle-max TIME        wait up to this long for compaction to catch up (default 10m)
        --quiet-wait TIME        before each run, wait up to this long for other processes to
                                 leave the CPUs alone (default 120s; 0 to skip)
        --busy-retries N         measure a run again (up to N times) when other processes took
                                 more than 0.2 CPUs during it; the quietest attempt is kept
                                 (default 1; each attempt adds keys)
      Comparison:
        --vs-redis HOST:PORT     run the same workload against Redis as SET key 1 NX EX window,
                                 pipelined; "start" starts a private redis-server (appendonly
                                 yes, appendfsync everysec) on a free port
        --redis-connections N    (default 8)
        --redis-pipeline N       commands per pipeline (default 32)
        --redis-max-keys N       skip Redis at preload sizes above N (Redis holds every key in
                                 RAM, about 130 bytes each)
      Output:
        --out DIR                (default bench-results/TIMESTAMP)
        --svg-dir DIR            where the charts go (default: the output directory)
        --charts-from A.json[,B.json...]
                                 measure nothing: draw the charts from result files, their
                                 steps merged in order of stored keys
      """;

  /** A wrong word on the command line. */
  static final class BadOption extends RuntimeException {
    BadOption(String message) {
      super(message);
    }
  }

  static BenchOptions parse(List<String> args) {
    String target = null;
    String ops = null;
    Path dataDir = null;
    boolean keepData = false;
    String durability = "fsync";
    String preloadDurability = null;
    List<Long> preload = List.of();
    int preloadBatch = 10_000;
    int preloadInFlight = 8;
    int batch = 1000;
    int concurrency = 4;
    int channels = 1;
    double duplicates = 0.006;
    Workload.Shape ids = Workload.Shape.parse("uuid");
    Duration duration = Duration.ofSeconds(20);
    Duration warmup = Duration.ofSeconds(5);
    Duration settle = Duration.ofSeconds(5);
    Duration settleMax = Duration.ofMinutes(10);
    Duration quietWait = Duration.ofSeconds(120);
    int busyRetries = 1;
    String namespace = "bench";
    String vsRedis = null;
    int redisConnections = 8;
    int redisPipeline = 32;
    long redisMaxKeys = Long.MAX_VALUE;
    Path out = null;
    Path svgDir = null;
    // A fixed, pre-touched heap: its resident size is then constant, so that growth in RSS
    // between stored-key sizes is native memory (RocksDB), not the heap's elastic size.
    List<String> javaOptions = List.of("-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch");
    List<String> settings = new ArrayList<>();
    long seed = 1;
    List<Path> chartsFrom = List.of();
    for (int i = 0; i < args.size(); i++) {
      String flag = args.get(i);
      if (flag.equals("--keep-data")) {
        keepData = true;
        continue;
      }
      if (flag.equals("--help") || flag.equals("-h")) {
        throw new BadOption("help");
      }
      if (i + 1 >= args.size()) {
        throw new BadOption(flag.startsWith("--") ? flag + " needs a value" : "unknown argument '" + flag + "'");
      }
      String v = args.get(++i);
      switch (flag) {
        case "--target" -> target = hostPort(flag, v);
        case "--ops" -> ops = hostPort(flag, v);
        case "--data-dir" -> dataDir = Path.of(v);
        case "--durability" -> durability = durability(flag, v);
        case "--preload-durability" -> preloadDurability = durability(flag, v);
        case "--preload" -> preload = counts(flag, v);
        case "--preload-batch" -> preloadBatch = positive(flag, v, 10_000);
        case "--preload-in-flight" -> preloadInFlight = positive(flag, v, 1024);
        case "--batch" -> batch = positive(flag, v, 10_000);
        case "--concurrency" -> concurrency = positive(flag, v, 4096);
        case "--channels" -> channels = positive(flag, v, 64);
        case "--duplicates" -> duplicates = ratio(flag, v);
        case "--ids" -> {
          try {
            ids = Workload.Shape.parse(v);
          } catch (IllegalArgumentException e) {
            throw new BadOption(e.getMessage());
          }
        }
        case "--duration" -> duration = time(flag, v);
        case "--warmup" -> warmup = time(flag, v);
        case "--settle" -> settle = time(flag, v);
        case "--settle-max" -> settleMax = time(flag, v);
        case "--quiet-wait" -> quietWait = time(flag, v);
        case "--busy-retries" -> busyRetries = (int) count(flag, v);
        case "--namespace" -> namespace = v;
        case "--vs-redis" -> vsRedis = v.equals("start") ? v : hostPort(flag, v);
        case "--redis-connections" -> redisConnections = positive(flag, v, 1024);
        case "--redis-pipeline" -> redisPipeline = positive(flag, v, 100_000);
        case "--redis-max-keys" -> redisMaxKeys = count(flag, v);
        case "--out" -> out = Path.of(v);
        case "--charts-from" -> chartsFrom = java.util.Arrays.stream(v.split(","))
            .filter(f -> !f.isBlank()).map(Path::of).toList();
        case "--svg-dir" -> svgDir = Path.of(v);
        case "--server-java-opts" -> javaOptions = List.of(v.trim().split("\\s+"));
        case "--server-set" -> {
          if (v.indexOf('=') <= 0) {
            throw new BadOption("--server-set takes KEY=VALUE, got '" + v + "'");
          }
          settings.add(v);
        }
        case "--seed" -> {
          try {
            seed = Long.parseLong(v);
          } catch (NumberFormatException e) {
            throw new BadOption("--seed takes a whole number, got '" + v + "'");
          }
        }
        default -> throw new BadOption("unknown flag '" + flag + "'");
      }
    }
    if (duration.isZero()) {
      throw new BadOption("--duration must be more than zero");
    }
    if (target != null && (dataDir != null || !settings.isEmpty())) {
      throw new BadOption("--data-dir and --server-set are for the node bench starts; not with --target");
    }
    if (target != null && preloadDurability != null && !preloadDurability.equals(durability)) {
      throw new BadOption("--preload-durability needs a node that bench starts (it restarts it); not with --target");
    }
    if (ops == null && target != null) {
      ops = target.substring(0, target.lastIndexOf(':')) + ":8081";
    }
    if (out == null) {
      out = Path.of("bench-results",
          java.time.LocalDateTime.now().withNano(0).toString().replace(':', '-'));
    }
    return new BenchOptions(target, ops, dataDir, keepData, durability,
        preloadDurability == null ? durability : preloadDurability, preload, preloadBatch,
        preloadInFlight, batch, concurrency, channels, duplicates, ids, duration, warmup, settle,
        settleMax, quietWait, busyRetries,
        namespace, vsRedis, redisConnections, redisPipeline, redisMaxKeys, out, svgDir == null ? out : svgDir,
        List.copyOf(javaOptions), List.copyOf(settings), seed, chartsFrom);
  }

  /** The options as text, for the result file. */
  Map<String, String> describe() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("server", target == null ? "started by bench (child process)" : target);
    m.put("durability", durability);
    m.put("preload_durability", preloadDurability);
    m.put("preload", preload.toString());
    m.put("preload_batch", Integer.toString(preloadBatch));
    m.put("preload_in_flight", Integer.toString(preloadInFlight));
    m.put("batch", Integer.toString(batch));
    m.put("concurrency", Integer.toString(concurrency));
    m.put("channels", Integer.toString(channels));
    m.put("duplicates", Double.toString(duplicates));
    m.put("ids", ids.toString());
    m.put("duration_seconds", Double.toString(duration.toMillis() / 1000.0));
    m.put("warmup_seconds", Double.toString(warmup.toMillis() / 1000.0));
    m.put("settle_seconds", Double.toString(settle.toMillis() / 1000.0));
    m.put("namespace", namespace);
    m.put("vs_redis", vsRedis == null ? "" : vsRedis);
    m.put("redis_connections", Integer.toString(redisConnections));
    m.put("redis_pipeline", Integer.toString(redisPipeline));
    m.put("redis_max_keys", Long.toString(redisMaxKeys));
    m.put("server_java_opts", String.join(" ", serverJavaOptions));
    m.put("server_settings", String.join(" ", serverSettings));
    m.put("seed", Long.toString(seed));
    return m;
  }

  private static String hostPort(String flag, String v) {
    int colon = v.lastIndexOf(':');
    if (colon <= 0 || colon == v.length() - 1) {
      throw new BadOption(flag + " takes HOST:PORT, got '" + v + "'");
    }
    try {
      Integer.parseInt(v.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new BadOption(flag + " takes HOST:PORT, got '" + v + "'");
    }
    return v;
  }

  private static String durability(String flag, String v) {
    if (!v.equals("fsync") && !v.equals("risk-power-loss")) {
      throw new BadOption(flag + " must be fsync or risk-power-loss, got '" + v + "'");
    }
    return v;
  }

  private static int positive(String flag, String v, int max) {
    long n = count(flag, v);
    if (n < 1 || n > max) {
      throw new BadOption(flag + " must be 1 to " + max + ", got '" + v + "'");
    }
    return (int) n;
  }

  /** 1000, 10k, 1M, 1G, 1_000_000. */
  static long count(String flag, String v) {
    String t = v.trim().replace("_", "").replace(",", "");
    long unit = 1;
    char last = t.isEmpty() ? ' ' : Character.toUpperCase(t.charAt(t.length() - 1));
    switch (last) {
      case 'K' -> unit = 1_000;
      case 'M' -> unit = 1_000_000;
      case 'G' -> unit = 1_000_000_000;
      default -> { }
    }
    if (unit > 1) {
      t = t.substring(0, t.length() - 1);
    }
    try {
      long n = Math.round(Double.parseDouble(t) * unit);
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new BadOption(flag + " takes a count (1000, 10k, 1M), got '" + v + "'");
    }
  }

  private static List<Long> counts(String flag, String v) {
    List<Long> list = new ArrayList<>();
    for (String part : v.split(",")) {
      if (!part.isBlank()) {
        list.add(count(flag, part));
      }
    }
    List<Long> sorted = new ArrayList<>(list);
    sorted.sort(null);
    if (!sorted.equals(list)) {
      throw new BadOption(flag + " sizes must rise, got '" + v + "'");
    }
    return List.copyOf(list);
  }

  private static double ratio(String flag, String v) {
    String t = v.trim();
    double scale = 1;
    if (t.endsWith("%")) {
      t = t.substring(0, t.length() - 1);
      scale = 100;
    }
    try {
      double r = Double.parseDouble(t) / scale;
      if (!(r >= 0 && r < 1)) {
        throw new NumberFormatException();
      }
      return r;
    } catch (NumberFormatException e) {
      throw new BadOption(flag + " takes a ratio in [0, 1) or a percentage (0.006, 0.6%), got '" + v + "'");
    }
  }

  /** 20, 20s, 500ms, 2m. */
  static Duration time(String flag, String v) {
    Duration d = parseTime(flag, v);
    if (d.isNegative()) {
      throw new BadOption(flag + " must not be negative, got '" + v + "'");
    }
    return d;
  }

  private static Duration parseTime(String flag, String v) {
    String t = v.trim().toLowerCase(Locale.ROOT);
    try {
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      }
      if (t.endsWith("s")) {
        return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
      }
      if (t.endsWith("m")) {
        return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 60_000));
      }
      return Duration.ofMillis(Math.round(Double.parseDouble(t) * 1000));
    } catch (NumberFormatException e) {
      throw new BadOption(flag + " takes a time (20s, 500ms, 2m), got '" + v + "'");
    }
  }
}
