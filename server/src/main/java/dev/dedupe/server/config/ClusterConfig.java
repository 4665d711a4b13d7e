package dev.dedupe.server.config;

import java.time.Duration;
import java.util.Objects;

/**
 * Whether and how a node joins a cluster.
 *
 * @param zk the ZooKeeper connect string ({@code cluster.zk}); empty means standalone
 * @param name the cluster's name: its znodes live under /dedupe/NAME ({@code cluster.name})
 * @param nodeId this node's id ({@code cluster.node-id}); empty means the one stored in the
 *     data directory, made when the directory was created
 * @param initialNodes how many nodes must register before the first controller assigns shards
 *     ({@code cluster.initial-nodes})
 * @param sessionTimeout the ZooKeeper session timeout ({@code cluster.session-timeout.seconds})
 * @param replicationFactor replicas per shard when the cluster forms
 *     ({@code cluster.replication-factor})
 * @param minInsyncReplicas how many in-sync replicas a write needs to commit, as configured
 *     ({@code cluster.min-insync-replicas}); {@link #effectiveMinInsyncReplicas} caps it
 * @param replicaLagMax how long a follower may stay behind the leader's log end before the
 *     leader drops it from the in-sync set ({@code cluster.replica-lag-max.ms})
 * @param replicationTimeout how long a round waits for its commit before it fails UNAVAILABLE
 *     ({@code cluster.replication-timeout.ms})
 * @param zone this node's zone, rack or failure domain ({@code cluster.zone}); "" for none
 * @param replicationPort the port of the node-to-node replication listener, on the API's host
 *     ({@code cluster.replication-port}); 0 picks a free one, published in ZooKeeper
 * @param replicationAdvertisedAddress host:port peers use for the replication listener
 *     ({@code cluster.replication-advertised-address}); "" for the API's advertised host and
 *     the listener's port
 * @param shutdownHandoverTimeout how long a normal stop waits for the node's leaderships to be
 *     handed over before it stops anyway ({@code cluster.shutdown-handover-timeout.seconds});
 *     zero stops at once, as a crash would
 * @param autoLeaderBalance whether the controller hands leaderships back to their preferred
 *     replicas by itself ({@code cluster.auto-leader-balance})
 * @param removedReplicaGrace how long a node keeps the data of a shard it no longer holds a
 *     replica of before deleting it ({@code cluster.removed-replica-grace.seconds}); zero
 *     deletes it as soon as the shard closes
 * @param replaceDeadNodeAfter how long a node that holds replicas may be gone before the
 *     controller rebuilds its replicas on other nodes
 *     ({@code cluster.replace-dead-node-after.seconds}); zero never does
 */
public record ClusterConfig(
    String zk, String name, String nodeId, int initialNodes, Duration sessionTimeout,
    int replicationFactor, int minInsyncReplicas, Duration replicaLagMax,
    Duration replicationTimeout, String zone, int replicationPort,
    String replicationAdvertisedAddress, Duration shutdownHandoverTimeout,
    boolean autoLeaderBalance, Duration removedReplicaGrace, Duration replaceDeadNodeAfter) {

  public ClusterConfig {
    Objects.requireNonNull(zk, "cluster.zk");
    Objects.requireNonNull(nodeId, "cluster.node-id");
    if (!name.matches("[A-Za-z0-9._-]{1,64}")) {
      throw new IllegalArgumentException(
          "cluster.name must be 1 to 64 characters of [A-Za-z0-9._-], was '" + name + "'");
    }
    if (!nodeId.isEmpty() && !nodeId.matches("[A-Za-z0-9._-]{1,64}")) {
      throw new IllegalArgumentException(
          "cluster.node-id must be 1 to 64 characters of [A-Za-z0-9._-], was '" + nodeId + "'");
    }
    if (initialNodes < 1) {
      throw new IllegalArgumentException("cluster.initial-nodes must be >= 1, was " + initialNodes);
    }
    if (sessionTimeout.compareTo(Duration.ofSeconds(2)) < 0) {
      throw new IllegalArgumentException(
          "cluster.session-timeout.seconds must be >= 2, was " + sessionTimeout.toSeconds());
    }
    if (replicationFactor < 1) {
      throw new IllegalArgumentException(
          "cluster.replication-factor must be >= 1, was " + replicationFactor);
    }
    if (minInsyncReplicas < 1) {
      throw new IllegalArgumentException(
          "cluster.min-insync-replicas must be >= 1, was " + minInsyncReplicas);
    }
    if (replicaLagMax.toMillis() < 1) {
      throw new IllegalArgumentException(
          "cluster.replica-lag-max.ms must be >= 1, was " + replicaLagMax.toMillis());
    }
    if (replicationTimeout.toMillis() < 1) {
      throw new IllegalArgumentException(
          "cluster.replication-timeout.ms must be >= 1, was " + replicationTimeout.toMillis());
    }
    Objects.requireNonNull(zone, "cluster.zone");
    if (!zone.isEmpty() && !zone.matches("[A-Za-z0-9._-]{1,64}")) {
      throw new IllegalArgumentException(
          "cluster.zone must be empty or 1 to 64 characters of [A-Za-z0-9._-], was '" + zone + "'");
    }
    Objects.requireNonNull(replicationAdvertisedAddress, "cluster.replication-advertised-address");
    if (!replicationAdvertisedAddress.isEmpty()
        && !replicationAdvertisedAddress.matches("[^\\s:]+:\\d{1,5}")) {
      throw new IllegalArgumentException("cluster.replication-advertised-address must be"
          + " host:port, was '" + replicationAdvertisedAddress + "'");
    }
    if (shutdownHandoverTimeout.isNegative()) {
      throw new IllegalArgumentException("cluster.shutdown-handover-timeout.seconds must be >= 0,"
          + " was " + shutdownHandoverTimeout.toSeconds());
    }
    if (removedReplicaGrace.isNegative()) {
      throw new IllegalArgumentException("cluster.removed-replica-grace.seconds must be >= 0,"
          + " was " + removedReplicaGrace.toSeconds());
    }
    if (replaceDeadNodeAfter.isNegative()) {
      throw new IllegalArgumentException("cluster.replace-dead-node-after.seconds must be >= 0"
          + " (0 never replaces), was " + replaceDeadNodeAfter.toSeconds());
    }
    if (replicationPort < 0 || replicationPort > 65535) {
      throw new IllegalArgumentException(
          "cluster.replication-port must be 0 to 65535, was " + replicationPort);
    }
  }

  /**
   * The in-sync replicas a commit needs: the configured number, but never more than there are
   * replicas, so that a replication factor of 1 (or 2) runs the same path without being
   * configured twice.
   */
  public int effectiveMinInsyncReplicas() {
    return Math.min(minInsyncReplicas, replicationFactor);
  }

  public boolean enabled() {
    return !zk.isEmpty();
  }
}
