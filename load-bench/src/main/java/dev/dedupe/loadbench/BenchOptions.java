package dev.dedupe.loadbench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The options of {@code bin/dedupe bench}, parsed and checked by {@link BenchCli}, which
 * documents each (and gives {@code --help}). {@code suite} is null unless the command runs the
 * {@code --vs-redis} suite (--vs-redis without --preload).
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
    List<Path> chartsFrom,
    SuiteOptions suite,
    SuiteOptions replication) {

  /** The options as text, for the result file. */
  Map<String, String> describe() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("server", target != null ? target : replication != null
        ? "started by bench (child processes: one node, two 3-node clusters, ZooKeeper)"
        : "started by bench (child process)");
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
    if (suite != null) {
      m.put("rounds", Integer.toString(suite.rounds()));
      m.put("workloads", String.join(",", suite.workloads().stream().map(SuiteWorkload::name).toList()));
      m.put("write_doc", suite.writeDoc() == null ? "" : suite.writeDoc().toString());
    }
    if (replication != null) {
      m.put("suite", "replication");
      m.put("rounds", Integer.toString(replication.rounds()));
      m.put("workloads", String.join(",",
          replication.workloads().stream().map(SuiteWorkload::name).toList()));
      m.put("write_doc", replication.writeDoc() == null ? "" : replication.writeDoc().toString());
    }
    return m;
  }
}
