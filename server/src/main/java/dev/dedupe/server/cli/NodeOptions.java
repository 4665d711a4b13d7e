package dev.dedupe.server.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The flags that configure a node, shared by {@code server} and {@code dev}. Each flag is a
 * configuration setting (docs/configuration.md); flags beat environment variables, which beat
 * the file, which beats the defaults.
 */
final class NodeOptions {

  @Spec(Spec.Target.MIXEE)
  CommandSpec spec;

  @Option(names = "--config", paramLabel = "FILE", description = "The YAML configuration file.")
  Path configFile;

  @Option(names = "--grpc-port", paramLabel = "PORT", description = "grpc.port")
  Integer grpcPort;

  @Option(names = "--ops-port", paramLabel = "PORT", description = "ops.port")
  Integer opsPort;

  @Option(names = "--data-dir", paramLabel = "DIR", description = "storage.data-dir")
  Path dataDir;

  @Option(names = "--zk", paramLabel = "HOST:PORT[,...]",
      description = "cluster.zk: join the cluster coordinated by this ZooKeeper.")
  String zk;

  @Option(names = "--cluster", paramLabel = "NAME", description = "cluster.name")
  String cluster;

  @Option(names = "--node-id", paramLabel = "ID", description = "cluster.node-id")
  String nodeId;

  @Option(names = "--initial-nodes", paramLabel = "N", description = "cluster.initial-nodes")
  Integer initialNodes;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "Any setting of docs/configuration.md; repeatable.")
  List<String> set = new ArrayList<>();

  /** The settings the flags give, as configuration keys to values. */
  Map<String, String> settings() {
    Map<String, String> settings = new LinkedHashMap<>();
    for (String keyValue : set) {
      int eq = keyValue.indexOf('=');
      if (eq <= 0) {
        throw new ParameterException(spec.commandLine(),
            "--set takes KEY=VALUE, was '" + keyValue + "'");
      }
      settings.put(keyValue.substring(0, eq).trim(), keyValue.substring(eq + 1));
    }
    putIfGiven(settings, "grpc.port", grpcPort);
    putIfGiven(settings, "ops.port", opsPort);
    putIfGiven(settings, "storage.data-dir", dataDir);
    putIfGiven(settings, "cluster.zk", zk);
    putIfGiven(settings, "cluster.name", cluster);
    putIfGiven(settings, "cluster.node-id", nodeId);
    putIfGiven(settings, "cluster.initial-nodes", initialNodes);
    return settings;
  }

  private static void putIfGiven(Map<String, String> settings, String key, Object value) {
    if (value != null) {
      settings.put(key, value.toString());
    }
  }
}
