package dev.dedupe.server.cli;

import dev.dedupe.server.cluster.ClusterException;
import dev.dedupe.server.cluster.ClusterPaths;
import dev.dedupe.server.cluster.DataLossAcceptance;
import dev.dedupe.server.cluster.NodeRegistration;
import dev.dedupe.server.cluster.ClusterState;
import dev.dedupe.server.cluster.ShardAssignment;
import java.io.PrintStream;
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
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;

/**
 * {@code bin/dedupe admin ...}: a view of a cluster straight from ZooKeeper ({@code status}),
 * and the explicit decision to accept a shard's lost data ({@code accept-data-loss}).
 */
final class AdminCommands {

  private AdminCommands() {}

  static int run(List<String> args, PrintStream out) {
    if (args.isEmpty() || !List.of("status", "accept-data-loss").contains(args.get(0))) {
      throw new Main.UsageException("admin takes 'status' or 'accept-data-loss --shard N'");
    }
    String command = args.get(0);
    String zkAddress = System.getenv().getOrDefault("DEDUPE_CLUSTER_ZK", "127.0.0.1:2181");
    String cluster = System.getenv().getOrDefault("DEDUPE_CLUSTER_NAME", "dev");
    Integer shard = null;
    for (int i = 1; i < args.size(); i++) {
      String value = i + 1 < args.size() ? args.get(i + 1) : null;
      switch (args.get(i)) {
        case "--zk" -> zkAddress = Main.need("--zk", value);
        case "--cluster" -> cluster = Main.need("--cluster", value);
        case "--shard" -> {
          try {
            shard = Integer.parseInt(Main.need("--shard", value));
          } catch (NumberFormatException e) {
            throw new Main.UsageException("--shard takes a shard number, was '" + value + "'");
          }
        }
        default -> throw new Main.UsageException("unknown flag '" + args.get(i) + "'");
      }
      i++;
    }
    if (command.equals("accept-data-loss") && shard == null) {
      throw new Main.UsageException("accept-data-loss needs --shard N");
    }
    ClusterPaths paths = ClusterPaths.forCluster(cluster);
    try (CuratorFramework zk = CuratorFrameworkFactory.newClient(zkAddress, 10_000, 5_000,
        new RetryOneTime(500))) {
      zk.start();
      if (!zk.blockUntilConnected(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("cannot reach ZooKeeper at " + zkAddress);
      }
      if (command.equals("accept-data-loss")) {
        out.println(DataLossAcceptance.accept(zk, paths, shard));
      } else {
        status(zk, paths, cluster, zkAddress, out);
      }
      return 0;
    } catch (ClusterException e) {
      throw new IllegalStateException(e.getMessage(), e);
    } catch (IllegalStateException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException("reading cluster " + cluster + " at " + zkAddress + ": " + e, e);
    }
  }

  private static void status(CuratorFramework zk, ClusterPaths paths, String cluster,
      String zkAddress, PrintStream out) throws Exception {
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
