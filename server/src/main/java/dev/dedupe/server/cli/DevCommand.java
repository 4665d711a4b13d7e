package dev.dedupe.server.cli;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.config.ConfigLoader;
import dev.dedupe.server.config.ServerConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code bin/dedupe dev}: a node on this machine's loopback with small caches and its data
 * under the checkout, or with {@code --nodes N} an embedded ZooKeeper and N clustered nodes.
 * Its settings are defaults: a file, environment variables and flags all beat them.
 */
@Command(name = "dev", mixinStandardHelpOptions = true,
    description = {"Run a local node on 127.0.0.1 (data in data/dev), or with --nodes N an",
        "embedded ZooKeeper and N clustered nodes (data in data/dev-cluster)."})
final class DevCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin NodeOptions node;

  @Option(names = "--nodes", paramLabel = "N", defaultValue = "1",
      description = "How many clustered nodes to run, 1 to 9 (default: ${DEFAULT-VALUE}).")
  int nodes;

  @Option(names = "--zk-port", paramLabel = "PORT",
      defaultValue = "" + DevCluster.ZOOKEEPER_PORT,
      description = "The embedded ZooKeeper's port with --nodes (default: ${DEFAULT-VALUE}).")
  int zkPort;

  @Override
  public Integer call() {
    if (nodes < 1 || nodes > 9) {
      throw new ParameterException(spec.commandLine(), "--nodes must be 1 to 9, was " + nodes);
    }
    String home = System.getProperty("dedupe.home", ".");
    if (nodes > 1) {
      if (node.zk != null) {
        throw new ParameterException(spec.commandLine(),
            "--zk is for 'server'; 'dev --nodes N' runs its own ZooKeeper (--zk-port)");
      }
      Path root = node.dataDir != null ? node.dataDir : Path.of(home, "data", "dev-cluster");
      return DevCluster.run(nodes, zkPort, root, node.configFile, devDefaults(home),
          node.settings(), spec.commandLine().getOut());
    }
    ServerConfig config = ConfigLoader.load(
        node.configFile, node.settings(), System.getenv(), devDefaults(home));
    ServerCommand.runUntilStopped(DedupeNode.start(config, InstantSource.system()),
        started -> printBanner(spec.commandLine().getOut(), started));
    return 0;
  }

  /** Reachable from this machine only, small caches, data kept between runs. */
  static Map<String, String> devDefaults(String home) {
    Map<String, String> defaults = new LinkedHashMap<>();
    defaults.put("grpc.host", "127.0.0.1");
    defaults.put("ops.host", "127.0.0.1");
    defaults.put("storage.data-dir", Path.of(home, "data", "dev").toString());
    defaults.put("storage.block-cache.bytes", "64MiB");
    defaults.put("storage.write-buffer.bytes", "64MiB");
    // One node holds one copy; 'dev --nodes N' raises it (DevCluster).
    defaults.put("cluster.replication-factor", "1");
    return defaults;
  }

  private static void printBanner(PrintWriter out, DedupeNode node) {
    ServerConfig c = node.config();
    String target = "localhost:" + node.grpcPort();
    out.printf("""

        dedupe dev node is up.
          gRPC API  %s   (dedupe.v1.DedupeService, grpc.health.v1.Health, reflection)
          ops       http://localhost:%d/health/ready   http://localhost:%d/metrics
          data      %s   (%d shards, window %s, durability %s)

        Try it from another terminal:
          bin/dedupe insert orders order-1 order-2    # NEW, NEW
          bin/dedupe insert orders order-1            # DUPLICATE
          bin/dedupe stats orders
          grpcurl -plaintext -d '{"namespace":"orders","message_ids":["order-3"]}' \\
              %s dedupe.v1.DedupeService/CheckAndInsert

        Ctrl-C stops it.
        """,
        target, node.opsPort(), node.opsPort(),
        c.storage().dataDir().toAbsolutePath().normalize(), c.storage().shards(),
        Durations.human(c.windows().defaultWindow()), c.storage().durability().configName(),
        target);
    out.flush();
  }
}
