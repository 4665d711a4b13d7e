package dev.dedupe.server.ops;

import dev.dedupe.server.config.WindowConfig;
import dev.dedupe.server.shard.NodeFigures;
import dev.dedupe.server.shard.Retention;
import dev.dedupe.server.shard.ShardFigures;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.storage.StorageResources;
import io.helidon.metrics.api.Counter;
import io.helidon.metrics.api.DistributionStatisticsConfig;
import io.helidon.metrics.api.DistributionSummary;
import io.helidon.metrics.api.Gauge;
import io.helidon.metrics.api.Meter;
import io.helidon.metrics.api.MeterRegistry;
import io.helidon.metrics.api.Metrics;
import io.helidon.metrics.api.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.rocksdb.TickerType;

/**
 * The node's meters, served in Prometheus text on the ops port at {@code /metrics}. Names are
 * written with dots and come out with underscores ({@code dedupe.ids} becomes
 * {@code dedupe_ids_total}); timers are in seconds. Gauges read the figures of the last
 * maintenance pass, so scraping never touches RocksDB.
 *
 * <p>Meters live in Helidon's global registry; {@link #close} removes this node's, so that a
 * JVM that starts several nodes (tests) never reports a closed one.
 */
public final class ServerMetrics implements AutoCloseable {

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

  private final MeterRegistry registry = Metrics.globalRegistry();
  private final List<Meter> registered = new ArrayList<>();
  private final Set<String> namespacesWithGauges = ConcurrentHashMap.newKeySet();
  private final Retention retention;
  private final WindowConfig windows;

  public ServerMetrics(
      Retention retention, WindowConfig windows, ShardSet shards, StorageResources resources) {
    this.retention = retention;
    this.windows = windows;
    gauge("dedupe.keys", "Records held over all namespaces", () -> figures(NodeFigures::totalKeys));
    gauge("dedupe.disk.bytes", "Bytes on disk: table files plus write-ahead logs",
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
    gauge("dedupe.rocksdb.stall.micros", "Microseconds writes were stalled by RocksDB (cumulative)",
        () -> resources.tickerCount(TickerType.STALL_MICROS));
    gauge("dedupe.rocksdb.compaction.read.bytes", "Bytes read by compaction (cumulative)",
        () -> resources.tickerCount(TickerType.COMPACT_READ_BYTES));
    gauge("dedupe.rocksdb.compaction.write.bytes", "Bytes written by compaction (cumulative)",
        () -> resources.tickerCount(TickerType.COMPACT_WRITE_BYTES));
    gauge("dedupe.rocksdb.wal.syncs", "Write-ahead log syncs (cumulative)",
        () -> resources.tickerCount(TickerType.WAL_FILE_SYNCED));
    // Per shard, so that a page about one shard leads to that shard's figures and log lines.
    // Registered for every shard; a shard not open on this node reads 0.
    for (int s = 0; s < shards.shardCount(); s++) {
      int shard = s;
      String tag = Integer.toString(shard);
      keep(registry.getOrCreate(Gauge.builder("dedupe.shard.open",
              () -> shards.isOpen(shard) ? 1L : 0L)
          .description("1 when this node serves the shard")
          .tags(Metrics.tags("shard", tag))));
      keep(registry.getOrCreate(Gauge.builder("dedupe.shard.queue.depth", () -> {
            var writer = shards.writer(shard);
            return writer == null ? 0L : (long) writer.queueDepth();
          })
          .description("Requests waiting for the shard's write path")
          .tags(Metrics.tags("shard", tag))));
      keep(registry.getOrCreate(Gauge.builder("dedupe.shard.disk.bytes",
              () -> figures(f -> f.shards().stream().filter(x -> x.shard() == shard)
                  .mapToLong(ShardFigures::diskBytes).sum()))
          .description("Bytes on disk for the shard")
          .tags(Metrics.tags("shard", tag))));
      keep(registry.getOrCreate(Gauge.builder("dedupe.shard.healthy", () -> {
            var writer = shards.writer(shard);
            return writer != null && writer.isHealthy() ? 1L : 0L;
          })
          .description("1 when the shard is open, its writer serving and its last write good")
          .tags(Metrics.tags("shard", tag))));
    }
  }

  private long figures(java.util.function.ToLongFunction<NodeFigures> read) {
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
      }
    }
  }

  private final ConcurrentHashMap<String, Counter> counters = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Rpc, Timer> timers = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Rpc, DistributionSummary> batchSizes = new ConcurrentHashMap<>();

  private Counter counter(String name, String description, String k1, String v1, String k2, String v2) {
    return counters.computeIfAbsent(name + '|' + v1 + '|' + v2, key -> keep(registry.getOrCreate(
        Counter.builder(name).description(description).tags(Metrics.tags(k1, v1, k2, v2)))));
  }

  private Timer timer(Rpc rpc) {
    return timers.computeIfAbsent(rpc, r -> keep(registry.getOrCreate(
        Timer.builder("dedupe.request.latency")
            .description("Server-side latency of a call, from receipt to reply")
            .tags(Metrics.tags("rpc", r.label))
            // Buckets only: Prometheus computes quantiles; client-side ones would not aggregate.
            .percentiles(new double[0])
            .buckets(LATENCY_BUCKETS))));
  }

  private DistributionSummary batchSize(Rpc rpc) {
    return batchSizes.computeIfAbsent(rpc, r -> keep(registry.getOrCreate(
        DistributionSummary.builder("dedupe.request.ids",
                DistributionStatisticsConfig.builder().percentiles(new double[0]).buckets(BATCH_BUCKETS))
            .description("Ids per call")
            .tags(Metrics.tags("rpc", r.label)))));
  }

  private void gauge(String name, String description, Supplier<Long> value) {
    keep(registry.getOrCreate(Gauge.builder(name, value).description(description)));
  }

  private void nsGauge(String name, String description, String ns, Supplier<Long> value) {
    keep(registry.getOrCreate(
        Gauge.builder(name, value).description(description).tags(Metrics.tags("namespace", ns))));
  }

  private synchronized <M extends Meter> M keep(M meter) {
    registered.add(meter);
    return meter;
  }

  @Override
  public synchronized void close() {
    registered.forEach(registry::remove);
    registered.clear();
  }
}
