package dev.dedupe.server.cluster;

import dev.dedupe.contract.ShardHash;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;

/** Reads of the cluster's znodes, shared by the controller, members and the admin view. */
public final class ClusterState {


  private ClusterState() {}

  /** The current assignment, or empty before the cluster first formed. */
  public static Optional<ShardAssignment> readAssignment(CuratorFramework zk, ClusterPaths paths)
      throws Exception {
    try {
      return ShardAssignment.fromJson(zk.getData().forPath(paths.assignment()));
    } catch (KeeperException.NoNodeException e) {
      return Optional.empty();
    }
  }

  /** A registered node's registration, or empty if it is not registered now. */
  public static Optional<NodeRegistration> readRegistration(
      CuratorFramework zk, ClusterPaths paths, String nodeId) throws Exception {
    try {
      return Optional.of(NodeRegistration.fromJson(zk.getData().forPath(paths.node(nodeId))));
    } catch (KeeperException.NoNodeException gone) {
      return Optional.empty();
    }
  }

  /** Ids of the nodes registered now. */
  public static List<String> liveNodes(CuratorFramework zk, ClusterPaths paths) throws Exception {
    try {
      return zk.getChildren().forPath(paths.nodes()).stream().sorted().toList();
    } catch (KeeperException.NoNodeException e) {
      return List.of();
    }
  }

  /**
   * Creates the cluster's fixed config on first use, or checks that it matches: a node whose
   * data directory has another shard count must not join.
   */
  static void ensureConfig(CuratorFramework zk, ClusterPaths paths, int shardCount) throws Exception {
    byte[] wanted = Json.createObjectBuilder().add("shards", shardCount).add("hash", ShardHash.NAME).build()
        .toString().getBytes(StandardCharsets.UTF_8);
    try {
      zk.create().creatingParentsIfNeeded().forPath(paths.config(), wanted);
      return;
    } catch (KeeperException.NodeExistsException exists) {
      // Check it below.
    }
    JsonObject config = Json.createReader(new StringReader(
        new String(zk.getData().forPath(paths.config()), StandardCharsets.UTF_8))).readObject();
    if (config.getInt("shards") != shardCount || !ShardHash.NAME.equals(config.getString("hash"))) {
      throw new ClusterException("cluster " + paths.root() + " has " + config
          + " but this node has " + shardCount + " shards with " + ShardHash.NAME, null);
    }
  }
}
