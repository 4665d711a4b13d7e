package dev.dedupe.server.cli;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cluster.EmbeddedZooKeeper;
import dev.dedupe.server.config.ConfigLoader;
import dev.dedupe.server.config.ServerConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * {@code bin/dedupe dev --nodes N}: an embedded ZooKeeper and N clustered nodes in this JVM,
 * each with its own data directory, ports and metrics registry, for trying the cluster on one
 * machine: each node's ops port shows that node's figures, as in production.
 */
final class DevCluster {

  static final int ZOOKEEPER_PORT = 2181;

  private DevCluster() {}

  /**
   * @param root where ZooKeeper's and each node's data go (subdirectories zookeeper, node-1...)
   */
  static int run(int nodes, int zkPort, Path root, Path configFile,
      Map<String, String> devDefaults, Map<String, String> flags, PrintWriter out) {
    int grpcBase = Integer.parseInt(flags.getOrDefault("grpc.port", "50051"));
    int opsBase = Integer.parseInt(flags.getOrDefault("ops.port", "8081"));
    // Every node holds a replica of every shard with 2 or 3 nodes, as a small production
    // cluster would; more nodes keep 3 replicas, the production default. Still a default: a
    // file, the environment or --set beat it.
    Map<String, String> defaults = new LinkedHashMap<>(devDefaults);
    defaults.put("cluster.replication-factor", Integer.toString(Math.min(nodes, 3)));
    EmbeddedZooKeeper zookeeper = EmbeddedZooKeeper.start(root.resolve("zookeeper"), zkPort);
    List<DedupeNode> started = new ArrayList<>();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      started.reversed().forEach(DedupeNode::close);
      zookeeper.close();
    }, "shutdown"));
    for (int i = 1; i <= nodes; i++) {
      // Each node needs its own ports, directory and id: these beat every other layer.
      Map<String, String> settings = new LinkedHashMap<>(flags);
      settings.put("grpc.port", Integer.toString(grpcBase + i - 1));
      settings.put("ops.port", Integer.toString(opsBase + i - 1));
      settings.put("storage.data-dir", root.resolve("node-" + i).toString());
      settings.put("cluster.zk", zookeeper.connectString());
      settings.put("cluster.node-id", "node-" + i);
      settings.put("cluster.initial-nodes", Integer.toString(nodes));
      ServerConfig config =
          ConfigLoader.load(configFile, settings, System.getenv(), defaults);
      started.add(DedupeNode.start(config, InstantSource.system()));
    }
    out.printf("%ndedupe dev cluster is up: %d nodes, %d replicas per shard, ZooKeeper at %s%n",
        nodes, started.get(0).config().cluster().replicationFactor(), zookeeper.connectString());
    for (DedupeNode node : started) {
      out.printf("  %-7s gRPC %s   ops http://localhost:%d/health/ready%n",
          node.clusterMember().nodeId(), node.advertisedAddress(), node.opsPort());
    }
    out.printf("""

        Try it from another terminal:
          bin/dedupe admin status --zk %s
          bin/dedupe insert --target %s orders order-1 order-2 order-3
          (any node answers: it forwards ids of shards it does not lead to their leaders;
           the Java client sends each id to its shard's leader itself)

        Ctrl-C stops it.
        """, zookeeper.connectString(), started.get(0).advertisedAddress());
    out.flush();
    try {
      new CountDownLatch(1).await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }
}
