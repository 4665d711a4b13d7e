package dev.dedupe.server.cluster;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.config.ConfigLoader;
import dev.dedupe.server.config.ServerConfig;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceBlockingStub;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.curator.test.TestingServer;

/**
 * A real ZooKeeper server (curator-test) and N nodes in this JVM, each with its own data
 * directory, serving gRPC over Netty on loopback. Nodes can be stopped and restarted on their
 * data directories; ZooKeeper can be stopped and restarted.
 */
final class ClusterFixture implements AutoCloseable {

  static final String CLUSTER = "it";

  final TestingServer zookeeper;
  private final Path root;
  private final int shards;
  private final int size;
  private final int replicationFactor;
  private final boolean proxied;
  /** Per node, when proxied: its ZooKeeper link, its replication inbound, its listener port. */
  private final Map<Integer, FaultProxy> zooKeeperLinks = new HashMap<>();
  private final Map<Integer, FaultProxy> replicationInbound = new HashMap<>();
  private final Map<Integer, Integer> replicationPorts = new HashMap<>();
  private final DedupeNode[] nodes;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  /** Settings every node starts with on top of the fixture's own (a test's short grace). */
  private final Map<String, String> extraSettings;

  /** {@code size} nodes, each holding a replica of every shard. */
  ClusterFixture(Path root, int size, int shards) throws Exception {
    this(root, size, shards, size, size);
  }

  /** A cluster of {@code size} initial nodes of which only the first {@code startNow} start. */
  ClusterFixture(Path root, int size, int shards, int startNow) throws Exception {
    this(root, size, shards, startNow, size);
  }

  /** As above, with {@code replicationFactor} replicas per shard. */
  ClusterFixture(Path root, int size, int shards, int startNow, int replicationFactor)
      throws Exception {
    this(root, size, shards, startNow, replicationFactor, false);
  }

  /**
   * A cluster whose every node reaches ZooKeeper through a {@link FaultProxy} of its own, and is
   * reached by its peers' replication through another ({@link #zooKeeperLink},
   * {@link #replicationInbound}), so that a test can cut either.
   */
  static ClusterFixture partitionable(Path root, int size, int shards) throws Exception {
    return new ClusterFixture(root, size, shards, size, size, true);
  }

  /** As above, with {@code replicationFactor} replicas per shard (fewer than nodes: room to move). */
  static ClusterFixture partitionable(Path root, int size, int shards, int replicationFactor)
      throws Exception {
    return new ClusterFixture(root, size, shards, size, replicationFactor, true);
  }

  /** As {@link #partitionable(Path, int, int, int)}, every node also started with {@code extra}. */
  static ClusterFixture partitionable(Path root, int size, int shards, int replicationFactor,
      Map<String, String> extra) throws Exception {
    return new ClusterFixture(root, size, shards, size, replicationFactor, true, extra);
  }

  /**
   * As {@link #ClusterFixture(Path, int, int, int, int)}, each node also getting
   * {@code settings} (they win over the fixture's: cluster.initial-nodes, for a node that joins
   * a formed cluster later).
   */
  static ClusterFixture withSettings(Path root, int size, int shards, int startNow,
      int replicationFactor, Map<String, String> settings) throws Exception {
    return new ClusterFixture(root, size, shards, startNow, replicationFactor, false, settings);
  }

  private ClusterFixture(Path root, int size, int shards, int startNow, int replicationFactor,
      boolean proxied) throws Exception {
    this(root, size, shards, startNow, replicationFactor, proxied, Map.of());
  }

  private ClusterFixture(Path root, int size, int shards, int startNow, int replicationFactor,
      boolean proxied, Map<String, String> extra) throws Exception {
    this.extraSettings = Map.copyOf(extra);
    this.proxied = proxied;
    this.root = root;
    this.size = size;
    this.shards = shards;
    this.replicationFactor = replicationFactor;
    this.zookeeper = new TestingServer(true);
    this.nodes = new DedupeNode[size];
    for (int i = 0; i < startNow; i++) {
      start(i);
    }
  }

  void start(int i) {
    Map<String, String> settings = new HashMap<>();
    settings.put("grpc.host", "127.0.0.1");
    settings.put("grpc.port", "0");
    settings.put("ops.host", "127.0.0.1");
    settings.put("ops.port", "0");
    settings.put("storage.data-dir", root.resolve("node-" + i).toString());
    settings.put("storage.shards", Integer.toString(shards));
    settings.put("storage.block-cache.bytes", "8MiB");
    settings.put("storage.write-buffer.bytes", "8MiB");
    settings.put("storage.disk-budget.bytes", "1GiB");
    settings.put("storage.maintenance.interval.seconds", "3600");
    settings.put("cluster.zk", zookeeper.getConnectString());
    if (proxied) {
      try {
        FaultProxy zk = zooKeeperLinks.computeIfAbsent(i, n -> proxyTo(zookeeper.getPort()));
        int port = replicationPorts.computeIfAbsent(i, n -> freePort());
        FaultProxy inbound = replicationInbound.computeIfAbsent(i, n -> proxyTo(port));
        settings.put("cluster.zk", zk.address());
        settings.put("cluster.replication-port", Integer.toString(port));
        settings.put("cluster.replication-advertised-address", inbound.address());
      } catch (java.io.UncheckedIOException e) {
        throw new IllegalStateException("cannot set up the proxies of node-" + i, e);
      }
    }
    settings.put("cluster.name", CLUSTER);
    settings.put("cluster.node-id", "node-" + i);
    settings.put("cluster.initial-nodes", Integer.toString(size));
    settings.put("cluster.session-timeout.seconds", "4");
    settings.put("cluster.replication-factor", Integer.toString(replicationFactor));
    settings.putAll(extraSettings);
    ServerConfig config = ConfigLoader.load(null, settings, Map.of());
    nodes[i] = DedupeNode.start(config, InstantSource.system());
  }

  void stop(int i) {
    DedupeNode node = nodes[i];
    nodes[i] = null;
    ManagedChannel channel = channels.remove(node.advertisedAddress());
    if (channel != null) {
      channel.shutdownNow();
    }
    node.close();
  }

  /** Node {@code i}'s connection to ZooKeeper (a partitionable fixture only). */
  FaultProxy zooKeeperLink(int i) {
    return zooKeeperLinks.get(i);
  }

  /** What the other nodes send node {@code i}'s replication listener (partitionable only). */
  FaultProxy replicationInbound(int i) {
    return replicationInbound.get(i);
  }

  private static FaultProxy proxyTo(int port) {
    try {
      return new FaultProxy(port);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static int freePort() {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1,
        java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** {@code n} ids: prefix0, prefix1, ... */
  static List<String> ids(String prefix, int n) {
    List<String> ids = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      ids.add(prefix + i);
    }
    return ids;
  }

  /**
   * What a node holds, per shard and namespace (keys): two replicas of a shard with the same
   * figures hold the same ids.
   */
  static Map<Integer, Map<String, Long>> keysPerShard(DedupeNode node) {
    Map<Integer, Map<String, Long>> out = new HashMap<>();
    for (dev.dedupe.server.shard.ShardFigures f
        : node.shards().onEveryShard(dev.dedupe.server.shard.ShardFigures::collect)) {
      out.put(f.shard(), f.keysByNamespace());
    }
    return out;
  }

  /** The cluster's ZooKeeper, to stop and restart in tests. */
  TestingServer zookeeper() {
    return zookeeper;
  }

  /** The data directory of node {@code i}, to damage in tests. */
  Path dataDir(int i) {
    return root.resolve("node-" + i);
  }

  DedupeNode node(int i) {
    return nodes[i];
  }

  int size() {
    return size;
  }

  /** A stub for the node at {@code address} (host:port), on a cached channel. */
  DedupeServiceBlockingStub stub(String address) {
    ManagedChannel channel = channels.computeIfAbsent(address,
        a -> NettyChannelBuilder.forTarget(a).usePlaintext().build());
    return DedupeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  /** A stub for node {@code i}'s AdminService, on its cached channel. */
  dev.dedupe.admin.v1.AdminServiceGrpc.AdminServiceBlockingStub admin(int i) {
    ManagedChannel channel = channels.computeIfAbsent(nodes[i].advertisedAddress(),
        a -> NettyChannelBuilder.forTarget(a).usePlaintext().build());
    return dev.dedupe.admin.v1.AdminServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  DedupeServiceBlockingStub stub(int i) {
    return stub(nodes[i].advertisedAddress());
  }

  /** Waits until every running node has read the shard states and serves the shards it leads. */
  void awaitServing() throws InterruptedException {
    await("every node serves its shards", () -> {
      for (DedupeNode n : nodes) {
        if (n != null && !n.isReady()) {
          return false;
        }
      }
      return true;
    });
  }

  /**
   * Waits until every running node sees every shard's replicas all in sync: only then does
   * stopping a node leave an in-sync follower for each shard it leads.
   */
  void awaitInSync() throws InterruptedException {
    await("every replica in sync", () -> running().stream().allMatch(n ->
        n.clusterMember().shardStates().size() == shards
            && n.clusterMember().shardStates().values().stream()
                .allMatch(s -> s.isr().size() == s.replicas().size())));
  }

  static void await(String what, BooleanSupplier condition) throws InterruptedException {
    // Generous: a busy machine is slow, and a condition met early returns at once.
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(20);
    }
  }

  List<DedupeNode> running() {
    List<DedupeNode> running = new ArrayList<>();
    for (DedupeNode n : nodes) {
      if (n != null) {
        running.add(n);
      }
    }
    return running;
  }

  @Override
  public void close() throws Exception {
    channels.values().forEach(ManagedChannel::shutdownNow);
    for (int i = size - 1; i >= 0; i--) {
      if (nodes[i] != null) {
        nodes[i].close();
      }
    }
    zookeeper.close();
    for (FaultProxy p : zooKeeperLinks.values()) {
      p.close();
    }
    for (FaultProxy p : replicationInbound.values()) {
      p.close();
    }
  }
}
