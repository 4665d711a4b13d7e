package dev.dedupe.server.cluster;

import dev.dedupe.contract.ShardHash;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import dev.dedupe.server.copy.Throttle;
import dev.dedupe.server.moves.MoveJob;
import dev.dedupe.server.moves.PlacementView;
import dev.dedupe.server.moves.Plan;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.replication.VersionedShardState;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/** Reads of the cluster's znodes, shared by the controller, members and the admin view. */
public final class ClusterState {

  private ClusterState() {}

  /**
   * Every shard's state with its version, or empty before the cluster first formed. The shard
   * znodes are created in one transaction, so a cluster has all of them or none.
   */
  public static Optional<ShardStates> readShardStates(CuratorFramework zk, ClusterPaths paths)
      throws Exception {
    List<String> children;
    try {
      children = zk.getChildren().forPath(paths.shards());
    } catch (KeeperException.NoNodeException e) {
      return Optional.empty();
    }
    if (children.isEmpty()) {
      return Optional.empty();
    }
    SortedMap<Integer, VersionedShardState> states = new TreeMap<>();
    for (String child : children) {
      int shard = ClusterPaths.shardOf(child);
      readShard(zk, paths, shard).ifPresent(v -> states.put(shard, v));
    }
    return Optional.of(new ShardStates(states));
  }

  /** One shard's state with the version it was read at, or empty if its znode is absent. */
  public static Optional<VersionedShardState> readShard(
      CuratorFramework zk, ClusterPaths paths, int shard) throws Exception {
    Stat stat = new Stat();
    try {
      byte[] data = zk.getData().storingStatIn(stat).forPath(paths.shard(shard));
      return Optional.of(
          new VersionedShardState(ShardStateJson.fromJson(shard, data), stat.getVersion()));
    } catch (KeeperException.NoNodeException e) {
      return Optional.empty();
    }
  }

  /** The registrations of the nodes registered now, by node id. */
  public static Map<String, NodeRegistration> liveRegistrations(
      CuratorFramework zk, ClusterPaths paths) throws Exception {
    Map<String, NodeRegistration> live = new TreeMap<>();
    for (String id : liveNodes(zk, paths)) {
      readRegistration(zk, paths, id).ifPresent(r -> live.put(id, r));
    }
    return live;
  }

  /**
   * For one shard, the store each live node publishes for it: what {@code LeaderElection}
   * calls the live stores. A node without the shard open is absent.
   */
  public static Map<String, String> liveStores(Map<String, NodeRegistration> live, int shard) {
    Map<String, String> stores = new TreeMap<>();
    live.forEach((id, r) -> {
      String store = r.stores().get(shard);
      if (store != null && !store.isEmpty()) {
        stores.put(id, store);
      }
    });
    return stores;
  }

  /** The registered nodes that say they are stopping. */
  public static java.util.Set<String> stopping(Map<String, NodeRegistration> live) {
    java.util.Set<String> out = new java.util.TreeSet<>();
    live.forEach((id, r) -> {
      if (r.stopping()) {
        out.add(id);
      }
    });
    return out;
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

  /** The nodes marked drained ({@code drained/}), sorted: they get no new replica or leader. */
  public static java.util.SortedSet<String> drainedNodes(CuratorFramework zk, ClusterPaths paths)
      throws Exception {
    return children(zk, paths.drained());
  }

  /** The nodes decommissioned ({@code decommissioned/}), sorted: they may not register again. */
  public static java.util.SortedSet<String> decommissionedNodes(CuratorFramework zk,
      ClusterPaths paths) throws Exception {
    return children(zk, paths.decommissioned());
  }

  /** Every move job kept (running, and the last finished ones), oldest first. */
  public static List<MoveJob> moveJobs(CuratorFramework zk, ClusterPaths paths)
      throws Exception {
    return MoveJobs.readAll(zk, paths).stream().map(MoveJobs.Versioned::job).toList();
  }

  /** Every plan kept (running, and the last finished ones), oldest first. */
  public static List<Plan> plans(CuratorFramework zk, ClusterPaths paths) throws Exception {
    return Plans.readAll(zk, paths).stream().map(Plans.Versioned::plan).toList();
  }

  /** The copy throttle in force, or empty when none is set. */
  public static Optional<Throttle> throttle(CuratorFramework zk, ClusterPaths paths)
      throws Exception {
    return ZkThrottle.read(zk, paths).map(ZkThrottle.Versioned::throttle);
  }

  /**
   * The cluster as the planners see it, from what was read: the one view a rebalance plans on
   * ({@code admin rebalance}) and {@code admin status} asks whether it would plan anything.
   *
   * @param shards every shard's state (not empty: the cluster formed)
   * @param live the registered nodes' registrations
   * @param drained the nodes marked drained
   */
  public static PlacementView placementView(Map<Integer, ShardState> shards,
      Map<String, NodeRegistration> live, java.util.Set<String> drained) {
    Map<String, String> zones = new TreeMap<>();
    live.forEach((id, r) -> zones.put(id, r.zone()));
    Map<Integer, Map<String, String>> stores = new TreeMap<>();
    shards.keySet().forEach(s -> stores.put(s, liveStores(live, s)));
    return new PlacementView(new TreeMap<>(shards), zones, stores, drained);
  }

  private static java.util.SortedSet<String> children(CuratorFramework zk, String path)
      throws Exception {
    try {
      return new java.util.TreeSet<>(zk.getChildren().forPath(path));
    } catch (KeeperException.NoNodeException none) {
      return new java.util.TreeSet<>();
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
