package dev.dedupe.server.config;

import java.util.List;

/**
 * Every configuration key, with its default beside it. docs/configuration.md explains each; a
 * test checks that it lists every key named here.
 *
 * <p>Each key can be set in the YAML file (nested by its dots), as an environment variable
 * ({@code DEDUPE_} plus the key upper-cased, with dots and dashes as underscores:
 * {@code storage.disk-budget.bytes} is {@code DEDUPE_STORAGE_DISK_BUDGET_BYTES}), or on the
 * command line ({@code --set storage.disk-budget.bytes=10GiB}). Flags beat environment
 * variables, which beat the file, which beats the default.
 */
public final class ConfigKeys {

  /** A key and its default, as text in the form the file would hold it. */
  public record Key(String name, String defaultValue) {}

  public static final Key GRPC_HOST = new Key("grpc.host", "0.0.0.0");
  public static final Key GRPC_PORT = new Key("grpc.port", "50051");
  public static final Key GRPC_ADVERTISED_ADDRESS = new Key("grpc.advertised-address", "");
  public static final Key OPS_HOST = new Key("ops.host", "0.0.0.0");
  public static final Key OPS_PORT = new Key("ops.port", "8081");

  public static final Key DATA_DIR = new Key("storage.data-dir", "./data");
  public static final Key SHARDS = new Key("storage.shards", "16");
  public static final Key DURABILITY = new Key("storage.durability", "fsync");
  public static final Key BUCKET_MINUTES = new Key("storage.bucket.minutes", "360");
  public static final Key DISK_BUDGET_BYTES = new Key("storage.disk-budget.bytes", "0");
  public static final Key BLOCK_CACHE_BYTES = new Key("storage.block-cache.bytes", "256MiB");
  public static final Key WRITE_BUFFER_BYTES = new Key("storage.write-buffer.bytes", "256MiB");
  public static final Key MAINTENANCE_SECONDS =
      new Key("storage.maintenance.interval.seconds", "10");

  public static final Key NAMESPACE_MAX_CHARS = new Key("limits.namespace.max-chars", "128");
  public static final Key MESSAGE_ID_MAX_BYTES = new Key("limits.message-id.max-bytes", "256");
  public static final Key BATCH_MAX_IDS = new Key("limits.batch.max-ids", "10000");
  public static final Key ATTEMPT_TOKEN_MAX_BYTES = new Key("limits.attempt-token.max-bytes", "128");
  public static final Key FINGERPRINT_MAX_BYTES = new Key("limits.fingerprint.max-bytes", "64");
  public static final Key RESULT_MAX_BYTES = new Key("limits.result.max-bytes", "4096");
  public static final Key LEASE_MAX_SECONDS = new Key("limits.lease.max-seconds", "3600");

  public static final Key CLUSTER_ZK = new Key("cluster.zk", "");
  public static final Key CLUSTER_NAME = new Key("cluster.name", "dedupe");
  public static final Key CLUSTER_NODE_ID = new Key("cluster.node-id", "");
  public static final Key CLUSTER_INITIAL_NODES = new Key("cluster.initial-nodes", "1");
  public static final Key CLUSTER_SESSION_TIMEOUT_SECONDS =
      new Key("cluster.session-timeout.seconds", "15");
  public static final Key CLUSTER_REPLICATION_FACTOR = new Key("cluster.replication-factor", "3");
  public static final Key CLUSTER_MIN_INSYNC_REPLICAS = new Key("cluster.min-insync-replicas", "2");
  public static final Key CLUSTER_REPLICA_LAG_MAX_MS = new Key("cluster.replica-lag-max.ms", "10000");
  public static final Key CLUSTER_REPLICATION_TIMEOUT_MS =
      new Key("cluster.replication-timeout.ms", "5000");
  public static final Key CLUSTER_ZONE = new Key("cluster.zone", "");
  public static final Key CLUSTER_REPLICATION_PORT = new Key("cluster.replication-port", "0");
  public static final Key CLUSTER_REPLICATION_ADVERTISED_ADDRESS =
      new Key("cluster.replication-advertised-address", "");
  public static final Key CLUSTER_SHUTDOWN_HANDOVER_TIMEOUT_SECONDS =
      new Key("cluster.shutdown-handover-timeout.seconds", "30");
  public static final Key CLUSTER_AUTO_LEADER_BALANCE = new Key("cluster.auto-leader-balance", "true");
  public static final Key CLUSTER_REMOVED_REPLICA_GRACE_SECONDS =
      new Key("cluster.removed-replica-grace.seconds", "3600");
  /** A node gone this long gets its replicas rebuilt elsewhere (a HEAL plan); 0 never. */
  public static final Key CLUSTER_REPLACE_DEAD_NODE_AFTER_SECONDS =
      new Key("cluster.replace-dead-node-after.seconds", "600");

  public static final Key WINDOW_DEFAULT_HOURS = new Key("window.default.hours", "24");
  public static final Key WINDOW_FLOOR_HOURS = new Key("window.floor.hours", "24");

  /**
   * Per-namespace windows are a list, since namespace names contain dots:
   * {@code namespaces: [{name: payments.charge, window: {hours: 72}}]}. Not settable from the
   * environment or flags.
   */
  public static final String NAMESPACES = "namespaces";

  public static final List<Key> ALL = List.of(
      GRPC_HOST, GRPC_PORT, GRPC_ADVERTISED_ADDRESS, OPS_HOST, OPS_PORT,
      DATA_DIR, SHARDS, DURABILITY, BUCKET_MINUTES, DISK_BUDGET_BYTES, BLOCK_CACHE_BYTES,
      WRITE_BUFFER_BYTES, MAINTENANCE_SECONDS,
      NAMESPACE_MAX_CHARS, MESSAGE_ID_MAX_BYTES, BATCH_MAX_IDS, ATTEMPT_TOKEN_MAX_BYTES,
      FINGERPRINT_MAX_BYTES, RESULT_MAX_BYTES, LEASE_MAX_SECONDS,
      CLUSTER_ZK, CLUSTER_NAME, CLUSTER_NODE_ID, CLUSTER_INITIAL_NODES,
      CLUSTER_SESSION_TIMEOUT_SECONDS, CLUSTER_REPLICATION_FACTOR, CLUSTER_MIN_INSYNC_REPLICAS,
      CLUSTER_REPLICA_LAG_MAX_MS, CLUSTER_REPLICATION_TIMEOUT_MS, CLUSTER_ZONE,
      CLUSTER_REPLICATION_PORT, CLUSTER_REPLICATION_ADVERTISED_ADDRESS,
      CLUSTER_SHUTDOWN_HANDOVER_TIMEOUT_SECONDS, CLUSTER_AUTO_LEADER_BALANCE,
      CLUSTER_REMOVED_REPLICA_GRACE_SECONDS,
      CLUSTER_REPLACE_DEAD_NODE_AFTER_SECONDS,
      WINDOW_DEFAULT_HOURS, WINDOW_FLOOR_HOURS);

  private ConfigKeys() {}

  /**
   * The known key nearest to {@code typed} by edit distance, or null when none is close enough
   * to be a plausible typo (more than a third of its characters differ).
   */
  public static String nearest(String typed) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (Key key : ALL) {
      int d = editDistance(typed, key.name());
      if (d < bestDistance) {
        best = key.name();
        bestDistance = d;
      }
    }
    return bestDistance <= Math.max(2, typed.length() / 3) ? best : null;
  }

  private static int editDistance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }

  /** The environment variable that sets a key. */
  public static String environmentName(Key key) {
    return "DEDUPE_" + key.name().toUpperCase(java.util.Locale.ROOT).replace('.', '_').replace('-', '_');
  }
}
