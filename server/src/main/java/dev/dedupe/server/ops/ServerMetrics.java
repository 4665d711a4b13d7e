package dev.dedupe.server.ops;

import dev.dedupe.server.config.WindowConfig;
import dev.dedupe.server.copy.CopyThrottle;
import dev.dedupe.server.replication.CopyTracker;
import dev.dedupe.server.replication.ReplicationRuntime;
import dev.dedupe.server.replication.ShardReplica;
import dev.dedupe.server.shard.NodeFigures;
import dev.dedupe.server.shard.Retention;
import dev.dedupe.server.shard.ShardFigures;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.storage.StorageResources;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.config.MeterFilter;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;
import org.rocksdb.TickerType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's meters, registered in the node's own registry (one per node, so that several nodes
 * in one JVM, as {@code bin/dedupe dev --nodes 3} runs them, each report their own figures) and
 * served in Prometheus text on the ops port at {@code /metrics}. Names are written with dots and
 * come out with underscores; counters gain {@code _total} ({@code dedupe.ids} becomes
 * {@code dedupe_ids_total}); times are in seconds and sizes in bytes. Gauges read the figures of
 * the last maintenance pass, so a scrape reads no data from RocksDB, only its statistics and
 * its cache usage.
 *
 * <p>The JVM and process meters (memory, threads, classes, GC, CPU, uptime) are Micrometer's
 * standard binders, whose snake_case names Prometheus tooling knows.
 */
public final class ServerMetrics implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ServerMetrics.class);

  /** The API calls, as metric labels. */
  public enum Rpc {
    CHECK_AND_INSERT("check_and_insert"),
    CHECK("check"),
    FORGET("forget"),
    GET_NAMESPACE_STATS("get_namespace_stats"),
    COMMIT("commit"),
    RELEASE("release"),
    EXTEND_LEASE("extend_lease"),
    GET_SHARD_MAP("get_shard_map");

    final String label;

    Rpc(String label) {
      this.label = label;
    }
  }

  private static final Duration[] LATENCY_BUCKETS = {
    Duration.ofNanos(100_000), Duration.ofNanos(250_000), Duration.ofNanos(500_000),
    Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10),
    Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
    Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5)
  };
  private static final double[] BATCH_BUCKETS = {1, 10, 100, 1000, 10_000};

  private final MeterRegistry registry;
  private final Set<String> namespacesWithGauges = ConcurrentHashMap.newKeySet();
  private final Retention retention;
  private final WindowConfig windows;
  /**
   * Held here because Micrometer's function counters keep only a weak reference to the object
   * they read; the RocksDB counters must not vanish from the scrape while the node runs.
   */
  private final StorageResources resources;
  /** Held for the same reason: the shards' write-error counters read it. */
  private final ShardSet shards;
  /** Held for the same reason: the process CPU counter reads it. */
  private final OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
  /** Listens to the JVM's GC notifications until closed. */
  private final JvmGcMetrics gcMetrics = new JvmGcMetrics();

  /**
   * Registers the node's meters in {@code registry}, which belongs to this node alone; the
   * node closes the registry after this.
   */
  public ServerMetrics(MeterRegistry registry, Retention retention, WindowConfig windows,
      ShardSet shards, StorageResources resources) {
    this.registry = registry;
    this.retention = retention;
    this.windows = windows;
    this.resources = resources;
    this.shards = shards;
    renameForPrometheus(registry);
    gauge("dedupe.keys", "Records held over all namespaces", () -> figures(NodeFigures::totalKeys));
    gauge("dedupe.disk.bytes", "Bytes on disk: every shard's table files plus the shared write-ahead log",
        () -> figures(NodeFigures::diskBytes));
    gauge("dedupe.disk.budget.bytes", "The disk budget; the oldest bucket goes when it is exceeded",
        retention::diskBudgetBytes);
    gauge("dedupe.shards.healthy", "1 when every shard's writer is serving and its last write succeeded",
        () -> shards.isHealthy() ? 1L : 0L);
    gauge("dedupe.rocksdb.pending.compaction.bytes", "Bytes compaction still has to rewrite",
        () -> figures(NodeFigures::pendingCompactionBytes));
    gauge("dedupe.rocksdb.memtable.bytes", "Memory in memtables", () -> figures(NodeFigures::memtableBytes));
    gauge("dedupe.rocksdb.block.cache.bytes", "Memory in the shared block cache",
        resources::blockCacheUsage);
    // RocksDB's tickers only grow (they count since the node opened its storage), so they are
    // counters: rate() and increase() then work on them, and a restart reads as a reset.
    counter("dedupe.rocksdb.stall.seconds", "Time writes were stalled by RocksDB",
        r -> r.tickerCount(TickerType.STALL_MICROS) / 1e6);
    counter("dedupe.rocksdb.compaction.read.bytes", "Bytes read by compaction",
        r -> r.tickerCount(TickerType.COMPACT_READ_BYTES));
    counter("dedupe.rocksdb.compaction.write.bytes", "Bytes written by compaction",
        r -> r.tickerCount(TickerType.COMPACT_WRITE_BYTES));
    counter("dedupe.rocksdb.wal.syncs", "Write-ahead log syncs",
        r -> r.tickerCount(TickerType.WAL_FILE_SYNCED));
    // Per shard, so that a page about one shard leads to that shard's figures and log lines.
    // Registered for every shard; a shard not open on this node reads 0.
    for (int s = 0; s < shards.shardCount(); s++) {
      int shard = s;
      String tag = Integer.toString(shard);
      shardGauge("dedupe.shard.open", "1 when this node serves the shard", tag,
          () -> shards.isOpen(shard) ? 1L : 0L);
      shardGauge("dedupe.shard.queue.depth", "Requests waiting for the shard's write path", tag, () -> {
        var writer = shards.writer(shard);
        return writer == null ? 0L : (long) writer.queueDepth();
      });
      shardGauge("dedupe.shard.disk.bytes",
          "Bytes of the shard's table files (the WAL, shared by all shards, is in dedupe_disk_bytes)", tag,
          () -> figures(f -> f.shards().stream().filter(x -> x.shard() == shard)
              .mapToLong(ShardFigures::diskBytes).sum()));
      shardGauge("dedupe.shard.healthy",
          "1 when the shard is open, its writer serving and its last write good", tag, () -> {
            var writer = shards.writer(shard);
            return writer != null && writer.isHealthy() ? 1L : 0L;
          });
      // A failure that the next round clears shows here even if no scrape saw the gauge at 0.
      FunctionCounter.builder("dedupe.shard.write.errors", shards, set -> {
            var writer = set.writer(shard);
            return writer == null ? 0 : writer.writeErrors();
          })
          .description("Rounds of the shard's write path that failed on a storage error (disk"
              + " full, I/O error) and were answered UNAVAILABLE, since the shard opened here")
          .tags("shard", tag)
          .register(registry);
    }
    bindJvmAndProcessMeters();
  }

  /**
   * Changes two of ProcessorMetrics' names, which {@code promtool check metrics} rejects:
   * {@code system_cpu_count} ("_count" belongs to histograms and summaries) becomes
   * {@code jvm_available_processors}, which is what it reads (Runtime.availableProcessors,
   * container limits included), and {@code process_cpu_time_ns_total} (an abbreviated, non-base
   * unit) gives way to the usual {@code process_cpu_seconds_total}, registered below. Filters
   * apply only to meters registered after them, so this runs first.
   */
  private static void renameForPrometheus(MeterRegistry registry) {
    registry.config()
        .meterFilter(new MeterFilter() {
          @Override
          public Meter.Id map(Meter.Id id) {
            return id.getName().equals("system.cpu.count") ? id.withName("jvm.available.processors") : id;
          }
        })
        .meterFilter(MeterFilter.deny(id -> id.getName().equals("process.cpu.time")));
  }

  /** Micrometer's standard binders, and the process's CPU time in seconds. */
  private void bindJvmAndProcessMeters() {
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    gcMetrics.bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    if (os instanceof com.sun.management.OperatingSystemMXBean hotspot) {
      FunctionCounter.builder("process.cpu.seconds", hotspot, b -> {
            long nanos = b.getProcessCpuTime();
            return nanos < 0 ? Double.NaN : nanos / 1e9; // -1: not supported on this platform
          })
          .description("CPU time used by the process")
          .register(registry);
    }
  }

  private long figures(ToLongFunction<NodeFigures> read) {
    NodeFigures f = retention.lastFigures();
    return f == null ? 0 : read.applyAsLong(f);
  }

  /** Counts one finished call. {@code outcome} is "ok" or the lower-case gRPC status code. */
  public void recordCall(Rpc rpc, int ids, long startNanos, String outcome) {
    counter("dedupe.requests", "Calls by RPC and outcome", "rpc", rpc.label, "outcome", outcome)
        .increment();
    timer(rpc).record(Duration.ofNanos(System.nanoTime() - startNanos));
    batchSize(rpc).record(ids);
  }

  /** Counts ids by what they were answered ("new", "duplicate", "removed", "absent"). */
  public void recordIds(Rpc rpc, String verdict, long count) {
    if (count > 0) {
      counter("dedupe.ids", "Ids by RPC and verdict", "rpc", rpc.label, "verdict", verdict)
          .increment(count);
    }
  }

  /**
   * Counts one sub-request that sent {@code ids} ids of a call on to the node that owns their
   * shard: the ids by outcome ("answered", or "failed" when they were answered UNAVAILABLE
   * here instead), and the failure by its lower-case gRPC code. The owner counts their
   * verdicts in its own {@code dedupe.ids}; this node's count only the ids it decided.
   *
   * @param failureCode null when the owner answered
   */
  public void recordForward(Rpc rpc, int ids, String failureCode) {
    counter("dedupe.forwarded.ids", "Ids sent on to the node that owns their shard, by RPC and outcome",
        "rpc", rpc.label, "outcome", failureCode == null ? "answered" : "failed").increment(ids);
    if (failureCode != null) {
      counter("dedupe.forward.failures",
          "Sub-requests to owners that failed; their ids were answered UNAVAILABLE with the owner",
          "rpc", rpc.label, "code", failureCode).increment();
    }
  }

  /** Adds per-namespace gauges for namespaces that appeared since the last call. */
  public void registerNamespaces() {
    NodeFigures f = retention.lastFigures();
    if (f == null) {
      return;
    }
    for (String ns : f.keysByNamespace().keySet()) {
      if (namespacesWithGauges.add(ns)) {
        nsGauge("dedupe.namespace.keys", "Records held for the namespace", ns,
            () -> figures(x -> x.keysHeld(ns)));
        nsGauge("dedupe.namespace.bytes", "The namespace's estimated share of bytes on disk", ns,
            () -> figures(x -> x.bytesHeld(ns)));
        nsGauge("dedupe.namespace.window.seconds", "The configured window", ns,
            () -> windows.windowFor(ns).toSeconds());
        nsGauge("dedupe.namespace.effective.window.seconds",
            "The window in force after disk-budget age-out; page when under 24 h", ns,
            () -> figures(x -> x.effectiveWindow(ns, windows).toSeconds()));
        // What the effective window is compared with, so that an alert follows the
        // configuration instead of repeating it.
        nsGauge("dedupe.namespace.window.floor.seconds",
            "The effective window below which the node warns: window.floor.hours, or the"
                + " namespace's own window when that is shorter", ns,
            () -> windows.floorFor(ns).toSeconds());
      }
    }
  }

  // Caches of the meters that calls record into, so that a call finds its meter by one map
  // lookup instead of building a meter id each time.
  private final ConcurrentHashMap<String, Counter> counters = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Rpc, Timer> timers = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Rpc, DistributionSummary> batchSizes = new ConcurrentHashMap<>();

  private Counter counter(String name, String description, String k1, String v1, String k2, String v2) {
    return counters.computeIfAbsent(name + '|' + v1 + '|' + v2, key ->
        Counter.builder(name).description(description).tags(k1, v1, k2, v2).register(registry));
  }

  private Timer timer(Rpc rpc) {
    return timers.computeIfAbsent(rpc, r -> Timer.builder("dedupe.request.latency")
        .description("Server-side latency of a call, from receipt to reply")
        .tags("rpc", r.label)
        // Buckets only: Prometheus computes quantiles; client-side ones would not aggregate.
        .serviceLevelObjectives(LATENCY_BUCKETS)
        .register(registry));
  }

  private DistributionSummary batchSize(Rpc rpc) {
    return batchSizes.computeIfAbsent(rpc, r -> DistributionSummary.builder("dedupe.request.ids")
        .description("Ids per call")
        .tags("rpc", r.label)
        .serviceLevelObjectives(BATCH_BUCKETS)
        .register(registry));
  }

  private void counter(String name, String description, ToDoubleFunction<StorageResources> read) {
    FunctionCounter.builder(name, resources, read).description(description).register(registry);
  }

  private void gauge(String name, String description, Supplier<Number> value) {
    Gauge.builder(name, value).description(description).strongReference(true).register(registry);
  }

  private void shardGauge(String name, String description, String shard, Supplier<Number> value) {
    Gauge.builder(name, value).description(description).tags("shard", shard)
        .strongReference(true).register(registry);
  }

  private void nsGauge(String name, String description, String ns, Supplier<Number> value) {
    Gauge.builder(name, value).description(description).tags("namespace", ns)
        .strongReference(true).register(registry);
  }

  // ---------------------------------------------------------------------------- replication

  /** How often the per-shard replication gauges follow the shards this node leads. */
  static final Duration REPLICATION_REFRESH = Duration.ofSeconds(1);

  /** Held for the function counters, which keep only weak references. */
  private ReplicationRuntime replication;
  private LongSupplier leaderElections;
  /** The per-shard replication gauges registered now, by shard and follower ("" for none). */
  private final Map<String, Gauge> ledShardGauges = new HashMap<>();
  private ScheduledExecutorService replicationRefresh;

  /**
   * Adds the replication meters of a cluster member: the shards it leads, their in-sync sets
   * and followers' lag, in-sync changes, and the elections it wrote as controller. The
   * per-shard gauges exist only for shards this node leads; they follow leadership every
   * {@link #REPLICATION_REFRESH}.
   *
   * @param elections leader changes written by this node as controller, since it started
   */
  public synchronized void bindReplication(ReplicationRuntime runtime, LongSupplier elections) {
    if (replication != null) {
      throw new IllegalStateException("replication meters are bound already");
    }
    this.replication = runtime;
    this.leaderElections = elections;
    gauge("dedupe.shards.led", "Shards this node leads",
        () -> runtime.replicas().stream().filter(ServerMetrics::leads).count());
    gauge("dedupe.shards.under.replicated",
        "Shards this node leads whose in-sync set is smaller than their replica set",
        () -> runtime.underReplicatedLed().size());
    gauge("dedupe.min.insync.replicas",
        "In-sync replicas, the leader included, a shard needs to acknowledge a write"
            + " (cluster.min-insync-replicas, at most the replication factor)",
        runtime::minInSync);
    FunctionCounter.builder("dedupe.leader.elections", elections, LongSupplier::getAsLong)
        .description("Leader changes this node wrote as controller (a shard left leaderless included)")
        .register(registry);
    FunctionCounter.builder("dedupe.isr.changes", runtime, ReplicationRuntime::inSyncShrinks)
        .description("Changes of the in-sync set of shards this node leads, by whether they removed"
            + " (shrink) or added (expand) members")
        .tags("change", "shrink")
        .register(registry);
    FunctionCounter.builder("dedupe.isr.changes", runtime, ReplicationRuntime::inSyncExpands)
        .description("Changes of the in-sync set of shards this node leads, by whether they removed"
            + " (shrink) or added (expand) members")
        .tags("change", "expand")
        .register(registry);
    refreshLedShardGauges();
    replicationRefresh = Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name("metrics-replication").daemon(true).factory());
    long every = REPLICATION_REFRESH.toMillis();
    replicationRefresh.scheduleWithFixedDelay(
        this::refreshLedShardGauges, every, every, TimeUnit.MILLISECONDS);
  }

  /**
   * Binds the meters of shard copies: snapshot bytes sent and received, copies in flight, the
   * throttle in force on this node, and move jobs running (the controller's count: 0 on the
   * other nodes, so the sum over the nodes is the cluster's).
   */
  public synchronized void bindCopies(CopyTracker copies, CopyThrottle throttle,
      LongSupplier movesRunning) {
    FunctionCounter.builder("dedupe.snapshot.copied.bytes", copies, CopyTracker::bytesSent)
        .description("Snapshot bytes this node's copies sent (direction=sent) or its installs"
            + " accepted (direction=received); a resumed copy counts only what it sent again")
        .tags("direction", "sent")
        .register(registry);
    FunctionCounter.builder("dedupe.snapshot.copied.bytes", copies, CopyTracker::bytesReceived)
        .description("Snapshot bytes this node's copies sent (direction=sent) or its installs"
            + " accepted (direction=received); a resumed copy counts only what it sent again")
        .tags("direction", "received")
        .register(registry);
    gauge("dedupe.snapshot.copies.in.flight", "Snapshots this node is sending now",
        copies::inFlight);
    gauge("dedupe.copy.throttle.bytes.per.second",
        "The copy throttle in force on this node, in bytes per second (0: none)",
        throttle::rate);
    gauge("dedupe.moves.running",
        "Move jobs running, as the controller counts them (0 on nodes that are not it)",
        movesRunning::getAsLong);
  }

  private static boolean leads(ShardReplica r) {
    return r.role() == ShardReplica.Role.LEADER;
  }

  /**
   * Registers {@code dedupe.shard.isr.size} for each shard led here and
   * {@code dedupe.replica.lag.entries} for each of its followers, and removes those of shards
   * no longer led, so that a scrape shows a shard's figures on its leader only.
   */
  private synchronized void refreshLedShardGauges() {
    try {
      Set<String> now = new HashSet<>();
      for (ShardReplica r : replication.replicas()) {
        if (!leads(r)) {
          continue;
        }
        String shard = Integer.toString(r.shard());
        now.add(shard + '|');
        ledShardGauges.computeIfAbsent(shard + '|', k -> Gauge.builder("dedupe.shard.isr.size",
                () -> leads(r) ? r.state().map(s -> (Number) s.state().isr().size()).orElse(Double.NaN)
                    : Double.NaN)
            .description("Members of the in-sync set of a shard this node leads, the leader included")
            .tags("shard", shard).strongReference(true).register(registry));
        for (String follower : r.followerLag().keySet()) {
          now.add(shard + '|' + follower);
          ledShardGauges.computeIfAbsent(shard + '|' + follower, k -> Gauge.builder(
                  "dedupe.replica.lag.entries", () -> {
                    Long lag = r.followerLag().get(follower);
                    return lag == null ? Double.NaN : lag;
                  })
              .description("Entries a follower of a shard this node leads has yet to acknowledge")
              .tags("shard", shard, "follower", follower).strongReference(true).register(registry));
        }
      }
      var gone = ledShardGauges.entrySet().iterator();
      while (gone.hasNext()) {
        var e = gone.next();
        if (!now.contains(e.getKey())) {
          registry.remove(e.getValue());
          gone.remove();
        }
      }
    } catch (RuntimeException e) {
      log.warn("refreshing the replication gauges failed; the next pass retries", e);
    }
  }

  /**
   * Stops the GC listener and the replication gauges' refresh. The meters go with the node's
   * registry, which the node closes.
   */
  @Override
  public void close() {
    gcMetrics.close();
    synchronized (this) {
      if (replicationRefresh != null) {
        replicationRefresh.shutdownNow();
      }
    }
  }
}
