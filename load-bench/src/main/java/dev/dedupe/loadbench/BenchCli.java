package dev.dedupe.loadbench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.UsageMessageSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bin/dedupe bench}'s command line, parsed by picocli: the options, their defaults and
 * their help, grouped as in docs/benchmarks.md. {@link #options()} checks what one option
 * cannot check alone and gives the {@link BenchOptions} that {@link BenchCommand} runs with.
 *
 * <p>The options come in mixins, one per section of the help ({@link #SECTIONS}); a mixin only
 * groups them, and they parse as one flat list. (Not picocli's argument groups: a group starts
 * again when one of its options is repeated, which would reset the group's other options.)
 */
@Command(
    name = "dedupe bench",
    mixinStandardHelpOptions = true,
    abbreviateSynopsis = true,
    descriptionHeading = "%n",
    optionListHeading = "%nOptions:%n",
    versionProvider = BenchCli.Version.class,
    sortOptions = false,
    usageHelpAutoWidth = false,
    description = {
        "Measures batched CheckAndInsert: ids per second and request latency (p50, p99, p99.9),"
            + " optionally at several stored-key counts and against Redis, and writes"
            + " result.json (and SVG charts) to the output directory.",
        "With --vs-redis and no --preload, runs the comparison suite instead (issue 10's"
            + " method; see --vs-redis and --workloads) and writes result.json and"
            + " comparison.md.",
        "Counts take k, M and G (1M, 10M); times take ms, s and m (500ms, 20s, 2m)."},
    footer = {"", "Method and results: docs/benchmarks.md.",
        "Exit codes: 0 done, 1 failed, 2 wrong command line."})
final class BenchCli implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  private final PrintStream out;
  private final PrintStream err;

  @Mixin
  Node node = new Node();

  @Mixin
  Load load = new Load();

  @Mixin
  Growth growth = new Growth();

  @Mixin
  Comparison comparison = new Comparison();

  @Mixin
  Output output = new Output();

  /** The headings of the help's sections, by the name of the mixin field that holds them. */
  static final Map<String, String> SECTIONS = sections();

  private static Map<String, String> sections() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("node", "The node");
    m.put("load", "The workload");
    m.put("growth", "Growth");
    m.put("comparison", "Comparison");
    m.put("output", "Output");
    return m;
  }

  BenchCli(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  static final class Node {
    @Option(names = "--target", paramLabel = "HOST:PORT", converter = BenchConverters.HostPort.class,
        description = "Drive a running node (default: start one, as a child process).")
    String target;

    @Option(names = "--ops", paramLabel = "HOST:PORT", converter = BenchConverters.HostPort.class,
        description = "Its ops port, for memory and compaction figures (default HOST:8081).")
    String ops;

    @Option(names = "--data-dir", paramLabel = "DIR",
        description = "The started node's data (default: a temporary directory, removed).")
    Path dataDir;

    @Option(names = "--keep-data", description = "Keep the started node's data directory.")
    boolean keepData;

    @Option(names = "--durability", paramLabel = "MODE", defaultValue = "fsync",
        converter = BenchConverters.Durability.class,
        description = "The started node's storage.durability while measuring: fsync (the"
            + " default) or risk-power-loss.")
    String durability;

    // A fixed, pre-touched heap: its resident size is then constant, so that growth in RSS
    // between stored-key sizes is native memory (RocksDB), not the heap's elastic size.
    @Option(names = "--server-java-opts", paramLabel = "OPTS",
        defaultValue = "-Xms1g -Xmx1g -XX:+AlwaysPreTouch",
        description = "JVM options of the started node (default \"${DEFAULT-VALUE}\": a heap"
            + " of constant resident size).")
    String serverJavaOptions;

    @Option(names = "--server-set", paramLabel = "KEY=VALUE",
        converter = BenchConverters.Setting.class,
        description = "A setting of the started node (repeatable).")
    List<String> serverSettings = new ArrayList<>();
  }

  static final class Load {
    @Option(names = "--batch", paramLabel = "N", defaultValue = "1000",
        converter = BenchConverters.Count.class,
        description = "Ids per request (default ${DEFAULT-VALUE}).")
    long batch;

    @Option(names = "--concurrency", paramLabel = "N", defaultValue = "4",
        converter = BenchConverters.Count.class,
        description = "Requests in flight (default ${DEFAULT-VALUE}).")
    long concurrency;

    @Option(names = "--channels", paramLabel = "N", defaultValue = "1",
        converter = BenchConverters.Count.class,
        description = "gRPC connections (default ${DEFAULT-VALUE}).")
    long channels;

    @Option(names = "--duplicates", paramLabel = "RATIO", defaultValue = "0.006",
        converter = BenchConverters.Ratio.class,
        description = "Share of ids that repeat an earlier id (default ${DEFAULT-VALUE};"
            + " 50%% works).")
    double duplicates;

    @Option(names = "--ids", paramLabel = "SHAPE", defaultValue = "uuid",
        converter = BenchConverters.IdShape.class,
        description = "uuid (the default), counter or random:LENGTH.")
    Workload.Shape ids;

    @Option(names = "--duration", paramLabel = "TIME", defaultValue = "20s",
        converter = BenchConverters.Time.class,
        description = "Measured time per run (default ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = "--warmup", paramLabel = "TIME", defaultValue = "5s",
        converter = BenchConverters.Time.class,
        description = "Unmeasured time before it (default ${DEFAULT-VALUE}).")
    Duration warmup;

    @Option(names = "--namespace", paramLabel = "NS", defaultValue = "bench",
        description = "The namespace the ids go to (default ${DEFAULT-VALUE}).")
    String namespace;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
        description = "Fixes the ids (default ${DEFAULT-VALUE}).")
    long seed;
  }

  static final class Growth {
    @Option(names = "--preload", paramLabel = "N", split = ",", splitSynopsisLabel = ",",
        converter = BenchConverters.Count.class,
        description = "Store this many keys before measuring, and measure again at each size"
            + " (rising: 1M,10M,100M).")
    List<Long> preload = new ArrayList<>();

    @Option(names = "--preload-batch", paramLabel = "N", defaultValue = "10000",
        converter = BenchConverters.Count.class,
        description = "Ids per preload request (default ${DEFAULT-VALUE}).")
    long preloadBatch;

    @Option(names = "--preload-in-flight", paramLabel = "N", defaultValue = "8",
        converter = BenchConverters.Count.class,
        description = "Preload requests in flight (default ${DEFAULT-VALUE}).")
    long preloadInFlight;

    @Option(names = "--preload-durability", paramLabel = "MODE",
        converter = BenchConverters.Durability.class,
        description = "The started node's durability while preloading (default: as"
            + " --durability; risk-power-loss preloads faster, and is reported).")
    String preloadDurability;

    @Option(names = "--settle", paramLabel = "TIME", defaultValue = "5s",
        converter = BenchConverters.Time.class,
        description = "Pause between preloading and measuring (default ${DEFAULT-VALUE}),"
            + " then ...")
    Duration settle;

    @Option(names = "--settle-max", paramLabel = "TIME", defaultValue = "10m",
        converter = BenchConverters.Time.class,
        description = "... wait up to this long for compaction to catch up (default"
            + " ${DEFAULT-VALUE}).")
    Duration settleMax;

    @Option(names = "--quiet-wait", paramLabel = "TIME", defaultValue = "120s",
        converter = BenchConverters.Time.class,
        description = "Before each run, wait up to this long for other processes to leave the"
            + " CPUs alone (default ${DEFAULT-VALUE}; 0 to skip).")
    Duration quietWait;

    @Option(names = "--busy-retries", paramLabel = "N", defaultValue = "1",
        converter = BenchConverters.Count.class,
        description = "Measure a run again (up to N times) when other processes took more than"
            + " 0.2 CPUs during it; the quietest attempt is kept (default ${DEFAULT-VALUE};"
            + " each attempt adds keys).")
    long busyRetries;
  }

  static final class Comparison {
    @Option(names = "--vs-redis", paramLabel = "HOST:PORT", arity = "0..1", fallbackValue = "start",
        converter = BenchConverters.RedisTarget.class,
        description = {"Compare with Redis (SET key 1 NX EX window): \"start\" (the default"
            + " value) starts a private redis-server (appendonly yes, no RDB) on a free"
            + " loopback port; HOST:PORT uses a running one.",
            "Without --preload: the suite, issue 10's method. Each of --workloads runs against"
            + " dedupe and Redis appendfsync always and everysec (switched with CONFIG SET; a"
            + " Redis that refuses is measured as configured), for --rounds rounds, the order"
            + " rotating; it reports medians in result.json and comparison.md. Ids are"
            + " random:24 unless --ids says otherwise; --duration and --warmup apply to each"
            + " measurement. --batch, --concurrency, --duplicates, --channels and --redis-*"
            + " are refused: the suite's workloads are fixed.",
            "With --preload: the growth run's workload against Redis (everysec) at each size."})
    String vsRedis;

    @Option(names = "--replication",
        description = {"Run the replication suite (issue 11) instead: dedupe as one node, as 3"
            + " nodes in 3 processes (one ZooKeeper) with replication factor 1, and as 3 nodes"
            + " with factor 3 (min in-sync 2), each driven through the Java client (ids straight"
            + " to their leaders); against a Redis primary with one replica (two private"
            + " redis-servers, replicaof), each call followed by WAIT 1, with appendfsync always"
            + " and everysec on both. Rounds, rotation and medians as the --vs-redis suite; CPU"
            + " per id sums every process of a target. Writes result.json and replication.md."
            + " Its nodes' JVM options default to \"" + REPLICATION_SERVER_JAVA_OPTS + "\"."})
    boolean replication;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "3",
        converter = BenchConverters.Count.class,
        description = "The suite's rounds; each figure is the median over them (default"
            + " ${DEFAULT-VALUE}).")
    long rounds;

    @Option(names = "--workloads", paramLabel = "LIST",
        description = {"The suite's workloads, comma-separated (default: all):",
            "single-1: one id per call, 1 caller.",
            "single-16: one id per call, 16 callers (Redis: 16 connections).",
            "batch-1pct: batches of 1,000 ids, 4 in flight (Redis: 4 connections, each"
                + " sending pipelines of 1,000).",
            "batch-50pct: the same with 50%% repeats.",
            "client-16: 16 threads call the Java client's checkAndInsert with one id each;"
                + " dedupe only, reported against single-16 (issue 10's goal: at least 5x).",
            "The others have 1%% repeats.",
            "--replication runs single-1, single-16, batch-1pct and batch-50pct (default: all"
                + " but single-1)."})
    String workloads;

    @Option(names = "--write-doc", paramLabel = "FILE",
        description = "Also put the suite's report into FILE (docs/benchmarks.md), between"
            + " <!-- vs-redis:begin --> and <!-- vs-redis:end --> (with --replication:"
            + " <!-- replication:begin --> and <!-- replication:end -->), added at its end if"
            + " absent.")
    Path writeDoc;

    @Option(names = "--redis-connections", paramLabel = "N", defaultValue = "8",
        converter = BenchConverters.Count.class,
        description = "Connections to Redis (default ${DEFAULT-VALUE}).")
    long redisConnections;

    @Option(names = "--redis-pipeline", paramLabel = "N", defaultValue = "32",
        converter = BenchConverters.Count.class,
        description = "Commands per pipeline (default ${DEFAULT-VALUE}).")
    long redisPipeline;

    @Option(names = "--redis-max-keys", paramLabel = "N", converter = BenchConverters.Count.class,
        description = "Skip Redis at preload sizes above N (Redis holds every key in RAM,"
            + " about 130 bytes each).")
    Long redisMaxKeys;
  }

  static final class Output {
    @Option(names = "--out", paramLabel = "DIR",
        description = "Where result.json and the servers' logs go (default"
            + " bench-results/TIMESTAMP).")
    Path out;

    @Option(names = "--svg-dir", paramLabel = "DIR",
        description = "Where the charts go (default: the output directory).")
    Path svgDir;

    @Option(names = "--charts-from", paramLabel = "FILE", split = ",", splitSynopsisLabel = ",",
        description = "Measure nothing: draw the charts from result files (A.json,B.json),"
            + " their steps merged in order of stored keys.")
    List<String> chartsFrom = new ArrayList<>();
  }

  @Override
  public Integer call() {
    return BenchCommand.run(options(), out, err);
  }

  /**
   * The options, checked together.
   *
   * @throws ParameterException for a value out of range or options that do not go together
   */
  BenchOptions options() {
    if (load.duration.isZero()) {
      throw usage("--duration must be more than zero");
    }
    SuiteOptions replication = replication();
    List<Long> sorted = new ArrayList<>(growth.preload);
    sorted.sort(null);
    if (!sorted.equals(growth.preload)) {
      throw usage("--preload sizes must rise, got " + growth.preload);
    }
    if (node.target != null && (node.dataDir != null || !node.serverSettings.isEmpty())) {
      throw usage("--data-dir and --server-set are for the node bench starts; not with --target");
    }
    if (node.target != null && growth.preloadDurability != null
        && !growth.preloadDurability.equals(node.durability)) {
      throw usage("--preload-durability needs a node that bench starts (it restarts it); not with"
          + " --target");
    }
    SuiteOptions suite = replication != null ? null : suite();
    Workload.Shape ids = (suite != null || replication != null) && !given("--ids") ? SUITE_IDS
        : load.ids;
    String ops = node.ops;
    if (ops == null && node.target != null) {
      ops = node.target.substring(0, node.target.lastIndexOf(':')) + ":8081";
    }
    Path out = output.out != null ? output.out
        : Path.of("bench-results", LocalDateTime.now().withNano(0).toString().replace(':', '-'));
    String serverJavaOptions = replication != null && !given("--server-java-opts")
        ? REPLICATION_SERVER_JAVA_OPTS : node.serverJavaOptions;
    List<String> javaOptions = serverJavaOptions.isBlank() ? List.of()
        : List.of(serverJavaOptions.trim().split("\\s+"));
    return new BenchOptions(node.target, ops, node.dataDir, node.keepData, node.durability,
        growth.preloadDurability == null ? node.durability : growth.preloadDurability,
        List.copyOf(growth.preload),
        positive("--preload-batch", growth.preloadBatch, 10_000),
        positive("--preload-in-flight", growth.preloadInFlight, 1024),
        positive("--batch", load.batch, 10_000),
        positive("--concurrency", load.concurrency, 4096),
        positive("--channels", load.channels, 64),
        load.duplicates, ids, load.duration, load.warmup, growth.settle, growth.settleMax,
        growth.quietWait,
        (int) Math.min(growth.busyRetries, Integer.MAX_VALUE),
        load.namespace, comparison.vsRedis,
        positive("--redis-connections", comparison.redisConnections, 1024),
        positive("--redis-pipeline", comparison.redisPipeline, 100_000),
        comparison.redisMaxKeys == null ? Long.MAX_VALUE : comparison.redisMaxKeys,
        out, output.svgDir == null ? out : output.svgDir,
        javaOptions, List.copyOf(node.serverSettings), load.seed,
        output.chartsFrom.stream().filter(f -> !f.isBlank()).map(Path::of).toList(), suite,
        replication);
  }

  /**
   * The JVM options of the --replication suite's nodes unless --server-java-opts is given: a
   * fixed, pre-touched heap as for one node, smaller, since that suite runs seven nodes at once.
   */
  static final String REPLICATION_SERVER_JAVA_OPTS = "-Xms512m -Xmx512m -XX:+AlwaysPreTouch";

  /**
   * The options that do not go with --replication, with the reason given when one is on the
   * command line: it starts its own nodes, its own Redis, and runs fixed workloads.
   */
  private static Map<String, String> notWithReplication() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("--vs-redis", "--replication and --vs-redis are two suites: run one at a time");
    m.put("--preload", "--preload is for the growth run; not with --replication");
    m.put("--charts-from", "--charts-from measures nothing; not with --replication");
    String starts = " is for one node; --replication starts its own (one node and two 3-node"
        + " clusters, in temporary directories)";
    m.put("--target", "--target" + starts);
    m.put("--ops", "--ops" + starts);
    m.put("--data-dir", "--data-dir" + starts);
    for (String growth : List.of("--preload-batch", "--preload-in-flight", "--preload-durability",
        "--settle", "--settle-max", "--busy-retries")) {
      m.put(growth, growth + " is for the growth run (--preload); not with --replication");
    }
    for (String load : GROWTH_LOAD_OPTIONS) {
      m.put(load, load + " shapes the workload of a run with --preload; --replication runs"
          + " fixed workloads: choose them with --workloads (see --help)");
    }
    return m;
  }

  /** The --replication suite's options when it is asked for, else null. */
  private SuiteOptions replication() {
    if (!comparison.replication) {
      return null;
    }
    for (Map.Entry<String, String> refused : notWithReplication().entrySet()) {
      if (given(refused.getKey())) {
        throw usage(refused.getValue());
      }
    }
    for (String kv : node.serverSettings) {
      if (kv.startsWith("cluster.") || kv.startsWith("grpc.") || kv.startsWith("ops.")
          || kv.startsWith("storage.data-dir")) {
        throw usage("--server-set " + kv + ": --replication sets the nodes' cluster, ports and"
            + " directories itself");
      }
    }
    List<SuiteWorkload> chosen;
    try {
      chosen = comparison.workloads == null ? SuiteWorkload.REPLICATION_DEFAULT
          : SuiteWorkload.parse(comparison.workloads, SuiteWorkload.REPLICATION);
    } catch (IllegalArgumentException e) {
      throw usage("--workloads " + e.getMessage());
    }
    int rounds = positive("--rounds", comparison.rounds, 100);
    return new SuiteOptions(rounds, chosen, comparison.writeDoc, commandLine());
  }

  /** The suite's ids unless --ids names others: random 24-byte ids, as issue 10's harness sent. */
  static final Workload.Shape SUITE_IDS = Workload.Shape.parse("random:24");

  /** The options that shape a growth run's one workload, which the suite's fixed ones replace. */
  private static final List<String> GROWTH_LOAD_OPTIONS = List.of("--batch", "--concurrency",
      "--duplicates", "--channels", "--redis-connections", "--redis-pipeline", "--redis-max-keys");

  private static final List<String> SUITE_OPTIONS = List.of("--rounds", "--workloads", "--write-doc");

  /**
   * The suite's options when the command runs the suite (--vs-redis, no --preload, no
   * --charts-from), else null.
   */
  private SuiteOptions suite() {
    boolean suite = comparison.vsRedis != null && growth.preload.isEmpty()
        && output.chartsFrom.isEmpty();
    if (!suite) {
      for (String option : SUITE_OPTIONS) {
        if (given(option)) {
          throw usage(option + " is for the suites: --vs-redis (without --preload) or"
              + " --replication");
        }
      }
      return null;
    }
    for (String option : GROWTH_LOAD_OPTIONS) {
      if (given(option)) {
        // Least surprise: one custom workload would not be what the suite's table describes.
        throw usage(option + " shapes the workload of a run with --preload; the --vs-redis suite"
            + " runs fixed workloads: choose them with --workloads (see --help)");
      }
    }
    List<SuiteWorkload> chosen;
    try {
      chosen = comparison.workloads == null ? SuiteWorkload.ALL
          : SuiteWorkload.parse(comparison.workloads);
    } catch (IllegalArgumentException e) {
      throw usage("--workloads " + e.getMessage());
    }
    int rounds = positive("--rounds", comparison.rounds, 100);
    return new SuiteOptions(rounds, chosen, comparison.writeDoc, commandLine());
  }

  /** Whether the command line named {@code option} (not just its default). */
  private boolean given(String option) {
    CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
    return parsed != null && parsed.hasMatchedOption(option);
  }

  /** The command as typed, quoted where a shell needs it, for the suite's report. */
  private String commandLine() {
    CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
    StringBuilder line = new StringBuilder("bin/dedupe bench");
    for (String arg : parsed == null ? List.<String>of() : parsed.originalArgs()) {
      line.append(' ').append(arg.matches("[A-Za-z0-9_./:=,%+@-]+") ? arg
          : "'" + arg.replace("'", "'\\''") + "'");
    }
    return line.toString();
  }

  private int positive(String option, long value, int max) {
    if (value < 1 || value > max) {
      throw usage(option + " must be 1 to " + max + ", got " + value);
    }
    return (int) value;
  }

  private ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  /**
   * Lists the options in {@link #SECTIONS}, each under its heading, in declaration order, after
   * those of no section (--help, --version).
   */
  static void sectionTheHelp(CommandLine cli) {
    cli.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_OPTION_LIST, help -> {
      CommandSpec spec = help.commandSpec();
      Set<OptionSpec> inSections = new HashSet<>();
      StringBuilder text = new StringBuilder();
      for (Map.Entry<String, String> section : SECTIONS.entrySet()) {
        Help.Layout layout = help.createDefaultLayout();
        for (OptionSpec option : spec.mixins().get(section.getKey()).options()) {
          OptionSpec own = spec.findOption(option.longestName());
          layout.addOption(own, help.createDefaultParamLabelRenderer());
          inSections.add(own);
        }
        text.append(String.format("%n%s:%n", section.getValue())).append(layout);
      }
      Help.Layout rest = help.createDefaultLayout();
      spec.options().stream().filter(o -> !inSections.contains(o))
          .forEach(o -> rest.addOption(o, help.createDefaultParamLabelRenderer()));
      return rest + text.toString();
    });
  }

  /** The version the build wrote into version.properties. */
  static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() throws IOException {
      Properties p = new Properties();
      try (var in = BenchCli.class.getResourceAsStream("version.properties")) {
        if (in != null) {
          p.load(in);
        }
      }
      return new String[] {"dedupe bench " + p.getProperty("version", "(version unknown)")};
    }
  }

  /**
   * Parses a command line into checked options, as {@code bin/dedupe bench} would, without
   * running anything.
   *
   * @throws ParameterException for a wrong command line
   */
  static BenchOptions parse(String... args) {
    BenchCli cli = new BenchCli(System.out, System.err);
    Main.configure(new CommandLine(cli)).parseArgs(args);
    return cli.options();
  }
}
