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
 */
public record ClusterConfig(
    String zk, String name, String nodeId, int initialNodes, Duration sessionTimeout) {

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
  }

  public boolean enabled() {
    return !zk.isEmpty();
  }
}
