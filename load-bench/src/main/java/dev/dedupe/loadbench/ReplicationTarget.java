package dev.dedupe.loadbench;

import java.util.List;

/**
 * What one measurement of the {@code --replication} suite drives: dedupe as one node or as a
 * 3-node cluster of a replication factor, or a Redis primary with one replica, each call
 * followed by {@code WAIT 1}, under one {@code appendfsync} setting (on both processes).
 *
 * @param name the short name in progress lines and result.json: dedupe-rf3, redis-wait-always
 * @param label the name in the table
 * @param replicationFactor the cluster's {@code cluster.replication-factor}; 0 for the single
 *     node and for Redis
 * @param appendfsync Redis's appendfsync while measured, or null for dedupe
 */
record ReplicationTarget(String name, String label, int replicationFactor, String appendfsync) {

  static final ReplicationTarget ONE_NODE =
      new ReplicationTarget("dedupe-1-node", "dedupe, 1 node", 0, null);
  static final ReplicationTarget RF1 =
      new ReplicationTarget("dedupe-rf1", "dedupe, 3 nodes, factor 1", 1, null);
  static final ReplicationTarget RF3 =
      new ReplicationTarget("dedupe-rf3", "dedupe, 3 nodes, factor 3", 3, null);
  static final ReplicationTarget REDIS_ALWAYS = redis("always");
  static final ReplicationTarget REDIS_EVERYSEC = redis("everysec");

  /** Every target, in table order. */
  static final List<ReplicationTarget> ALL =
      List.of(ONE_NODE, RF1, RF3, REDIS_ALWAYS, REDIS_EVERYSEC);

  static ReplicationTarget redis(String appendfsync) {
    return new ReplicationTarget("redis-wait-" + appendfsync,
        "Redis + replica, " + appendfsync + ", WAIT 1", 0, appendfsync);
  }

  boolean isRedis() {
    return appendfsync != null;
  }

  /** A 3-node dedupe cluster (not the single node, not Redis). */
  boolean isCluster() {
    return replicationFactor > 0;
  }
}
