package dev.dedupe.client;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.config.ConfigLoader;
import dev.dedupe.server.testing.Conditions;
import dev.dedupe.server.testing.TestConfigs;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Arrays;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * A real dedupe node on loopback Netty, with a temporary data directory and test-sized memory
 * (the server's TestConfigs), and the cluster members the client's tests start.
 */
final class TestNode implements AutoCloseable {

  private final DedupeNode node;

  private TestNode(DedupeNode node) {
    this.node = node;
  }

  static TestNode start(Path dataDir) {
    return new TestNode(DedupeNode.start(ConfigLoader.load(null, settings(dataDir, 4), Map.of()),
        InstantSource.system()));
  }

  /** Loopback, free ports, test-sized memory, {@code shards} shards in {@code dataDir}. */
  static Map<String, String> settings(Path dataDir, int shards) {
    Map<String, String> settings = TestConfigs.settings(dataDir);
    settings.put("storage.shards", Integer.toString(shards));
    return settings;
  }

  /** A member of cluster {@code cluster} at {@code zk}, as node-{@code i}. */
  static DedupeNode clusterMember(
      Path root, String zk, String cluster, int i, int shards, int initialNodes) {
    return clusterMember(root, zk, cluster, i, shards, initialNodes, 0);
  }

  /** As above, listening on {@code grpcPort} (0 for any free port), to restart on the same one. */
  static DedupeNode clusterMember(Path root, String zk, String cluster, int i, int shards,
      int initialNodes, int grpcPort) {
    // One replica per shard: these tests move ownership by hand (Controller.moveShard).
    return clusterMember(root, zk, cluster, i, shards, initialNodes, grpcPort, 1);
  }

  /** As above, with {@code replicationFactor} replicas per shard. */
  static DedupeNode clusterMember(Path root, String zk, String cluster, int i, int shards,
      int initialNodes, int grpcPort, int replicationFactor) {
    Map<String, String> settings = settings(root.resolve("node-" + i), shards);
    settings.put("grpc.port", Integer.toString(grpcPort));
    settings.put("cluster.zk", zk);
    settings.put("cluster.name", cluster);
    settings.put("cluster.node-id", "node-" + i);
    settings.put("cluster.initial-nodes", Integer.toString(initialNodes));
    settings.put("cluster.session-timeout.seconds", "4");
    settings.put("cluster.replication-factor", Integer.toString(replicationFactor));
    return DedupeNode.start(ConfigLoader.load(null, settings, Map.of()), InstantSource.system());
  }

  /** How long tests wait for a cluster to form or a node to come back: generous when busy. */
  static final Duration READY_WAIT = Duration.ofSeconds(90);

  /** Waits until every node reports ready: the cluster formed and each serves its shards. */
  static void awaitReady(DedupeNode... nodes) throws InterruptedException {
    awaitCondition(READY_WAIT, "every node ready",
        () -> Arrays.stream(nodes).allMatch(DedupeNode::isReady));
  }

  /**
   * Polls {@code condition} until it holds; fails, naming {@code what}, if it does not within
   * {@code max}. For tests that must wait for a state, never for a time.
   */
  static void awaitCondition(Duration max, String what, BooleanSupplier condition)
      throws InterruptedException {
    Conditions.await(max, what, condition, () -> "");
  }

  /** host:port of the node's gRPC API. */
  String address() {
    return "127.0.0.1:" + node.grpcPort();
  }

  @Override
  public void close() {
    node.close();
  }
}
