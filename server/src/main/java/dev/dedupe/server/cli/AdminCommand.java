package dev.dedupe.server.cli;

import dev.dedupe.server.cluster.ClusterException;
import dev.dedupe.server.cluster.ClusterPaths;
import dev.dedupe.server.cluster.ClusterState;
import dev.dedupe.server.cluster.DataLossAcceptance;
import dev.dedupe.server.cluster.NodeRegistration;
import dev.dedupe.server.cluster.ShardAssignment;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bin/dedupe admin ...}: a view of a cluster straight from ZooKeeper ({@code status}),
 * and the explicit decision to accept a shard's lost data ({@code accept-data-loss}).
 */
@Command(name = "admin", mixinStandardHelpOptions = true,
    description = "Look at and administer a cluster, through its ZooKeeper.",
    subcommands = {AdminCommand.Status.class, AdminCommand.AcceptDataLoss.class})
final class AdminCommand {

  /** How long an admin command waits for ZooKeeper before it gives up. */
  private static final Duration CONNECT_WAIT = Duration.ofSeconds(5);

  /** Where the cluster is: the same names and defaults as a node's cluster settings. */
  static final class ClusterOptions {
    @Option(names = "--zk", paramLabel = "HOST:PORT[,...]",
        defaultValue = "${env:DEDUPE_CLUSTER_ZK:-127.0.0.1:2181}",
        description = "The cluster's ZooKeeper (default: $DEDUPE_CLUSTER_ZK or ${DEFAULT-VALUE}).")
    String zk;

    @Option(names = "--cluster", paramLabel = "NAME",
        // cluster.name's default, as a constant the annotation can hold; CliTest checks it.
        defaultValue = "${env:DEDUPE_CLUSTER_NAME:-dedupe}",
        description = "The cluster's name, cluster.name (default: $DEDUPE_CLUSTER_NAME or"
            + " ${DEFAULT-VALUE}).")
    String cluster;

    /** Connects, failing within {@link #CONNECT_WAIT} with one line if ZooKeeper is not there. */
    CuratorFramework connect() {
      CuratorFramework zookeeper = CuratorFrameworkFactory.newClient(zk,
          10_000, (int) CONNECT_WAIT.toMillis(), new RetryOneTime(500));
      zookeeper.start();
      try {
        if (!zookeeper.blockUntilConnected((int) CONNECT_WAIT.toSeconds(), TimeUnit.SECONDS)) {
          zookeeper.close();
          throw new Failures.CommandFailure("cannot reach ZooKeeper at " + zk + " within "
              + CONNECT_WAIT.toSeconds() + " s (is it running? 'bin/dedupe dev --nodes 3'"
              + " starts one on 127.0.0.1:2181)");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        zookeeper.close();
        throw new Failures.CommandFailure("interrupted while connecting to ZooKeeper");
      }
      return zookeeper;
    }

    ClusterPaths paths() {
      return ClusterPaths.forCluster(cluster);
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = "The controller, each node with its health and shards, and the shard map.")
  static final class Status implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ClusterOptions where;

    @Override
    public Integer call() throws Exception {
      try (CuratorFramework zk = where.connect()) {
        status(zk, where.paths(), where.cluster, where.zk, spec.commandLine().getOut());
      }
      return 0;
    }
  }

  @Command(name = "accept-data-loss", mixinStandardHelpOptions = true,
      description = {"A shard LOST on its owner (its store was replaced by an empty one): serve",
          "it from the empty store. Ids acknowledged before the loss may be NEW again."})
  static final class AcceptDataLoss implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ClusterOptions where;

    @Option(names = "--shard", paramLabel = "N", required = true, description = "The shard.")
    int shard;

    @Override
    public Integer call() throws Exception {
      try (CuratorFramework zk = where.connect()) {
        spec.commandLine().getOut().println(DataLossAcceptance.accept(zk, where.paths(), shard));
      } catch (ClusterException e) {
        throw new Failures.CommandFailure(e.getMessage(), e);
      }
      return 0;
    }
  }

  private static void status(CuratorFramework zk, ClusterPaths paths, String cluster,
      String zkAddress, PrintWriter out) throws Exception {
    out.println("cluster " + cluster + " at " + zkAddress);
    if (zk.checkExists().forPath(paths.root()) == null) {
      out.println("  no such cluster (nothing under " + paths.root() + ")");
      return;
    }
    var epochStat = zk.checkExists().forPath(paths.controllerEpoch());
    if (epochStat != null) {
      String controller = new String(zk.getData().forPath(paths.controllerEpoch()), StandardCharsets.UTF_8);
      out.println("controller " + controller + " (controller epoch " + epochStat.getVersion() + ")");
    } else {
      out.println("controller none elected yet");
    }

    Optional<ShardAssignment> assignment = ClusterState.readAssignment(zk, paths);
    Map<String, NodeRegistration> live = new TreeMap<>();
    for (String id : ClusterState.liveNodes(zk, paths)) {
      ClusterState.readRegistration(zk, paths, id).ifPresent(r -> live.put(id, r));
    }
    Map<String, List<Integer>> byOwner = new TreeMap<>();
    assignment.ifPresent(a -> a.shards().forEach(
        e -> byOwner.computeIfAbsent(e.owner(), o -> new ArrayList<>()).add(e.shard())));
    live.keySet().forEach(id -> byOwner.putIfAbsent(id, List.of()));

    out.println();
    out.printf("%-14s %-22s %-10s %s%n", "NODE", "GRPC", "HEALTH", "SHARDS");
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    for (Map.Entry<String, List<Integer>> e : byOwner.entrySet()) {
      NodeRegistration info = live.get(e.getKey());
      String grpc = info == null ? "-" : info.grpc();
      String health = info == null ? "DOWN" : ready(http, info.ops());
      out.printf("%-14s %-22s %-10s %s%n", e.getKey(), grpc, health, e.getValue());
    }
    out.println();
    if (assignment.isEmpty()) {
      out.println("shard map: not formed yet (the controller waits for its initial nodes)");
      return;
    }
    out.println("shard map (shard: owner@epoch):");
    StringBuilder line = new StringBuilder();
    for (ShardAssignment.Entry entry : assignment.get().shards()) {
      NodeRegistration owner = live.get(entry.owner());
      String cell = String.format("%3d: %s@%d%s", entry.shard(), entry.owner(), entry.epoch(),
          owner == null ? " (unavailable)"
              : entry.storeRecorded() && owner.stores().containsKey(entry.shard())
                  && !entry.storeId().equals(owner.stores().get(entry.shard())) ? " (LOST)" : "");
      line.append(String.format("%-32s", cell));
      if ((entry.shard() + 1) % 3 == 0) {
        out.println("  " + line.toString().stripTrailing());
        line.setLength(0);
      }
    }
    if (!line.isEmpty()) {
      out.println("  " + line.toString().stripTrailing());
    }
  }

  private static String ready(HttpClient http, String opsAddress) {
    try {
      HttpResponse<Void> r = http.send(HttpRequest.newBuilder(
              URI.create("http://" + opsAddress + "/health/ready"))
          .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
      return r.statusCode() == 200 ? "READY" : "NOT READY";
    } catch (Exception e) {
      return "UNREACHABLE";
    }
  }
}
