package dev.dedupe.server.cli;

import dev.dedupe.server.cluster.ClusterException;
import dev.dedupe.server.cluster.ClusterPaths;
import dev.dedupe.server.cluster.ClusterState;
import dev.dedupe.server.cluster.NodeRegistration;
import dev.dedupe.server.cluster.ShardStates;
import dev.dedupe.server.cluster.UncleanElection;
import dev.dedupe.server.replication.LeaderElection;
import dev.dedupe.server.replication.ShardState;
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
 * the explicit decision to let a replica lead a shard whose in-sync replicas are lost
 * ({@code elect-unclean}), and move jobs through a node's AdminService
 * ({@link AdminMoveCommands}).
 */
@Command(name = "admin", mixinStandardHelpOptions = true,
    description = {"Look at and administer a cluster: status and elect-unclean through its",
        "ZooKeeper (--zk); move, transfer-leader, moves, cancel, throttle, drain, undrain,",
        "decommission, rebalance, plans and cancel-plan through a node (--target)."},
    subcommands = {AdminCommand.Status.class, AdminCommand.ElectUnclean.class,
        AdminMoveCommands.MoveReplica.class, AdminMoveCommands.TransferLeader.class,
        AdminMoveCommands.Moves.class, AdminMoveCommands.Cancel.class,
        AdminThrottleCommands.class,
        AdminPlanCommands.Drain.class, AdminPlanCommands.Undrain.class,
        AdminPlanCommands.Decommission.class, AdminPlanCommands.Rebalance.class,
        AdminPlanCommands.Plans.class, AdminPlanCommands.CancelPlan.class,
        AdminCommand.AcceptDataLoss.class})
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
      description = {"The controller, each node with its health and shards, and each shard's",
          "leader, epoch, replicas and in-sync set."})
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

  @Command(name = "elect-unclean", mixinStandardHelpOptions = true,
      description = {"Make a live replica lead a shard whose in-sync replicas cannot return,",
          "with whatever its store holds. Ids acknowledged before may be NEW again.",
          "Without --yes, prints what it would do and changes nothing."})
  static final class ElectUnclean implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ClusterOptions where;

    @Option(names = "--shard", paramLabel = "S", required = true, description = "The shard.")
    int shard;

    @Option(names = "--node", paramLabel = "N", required = true,
        description = "The node to lead: it must be running with the shard open.")
    String node;

    @Option(names = "--yes", description = "Do it, accepting the loss the warning describes.")
    boolean yes;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      try (CuratorFramework zk = where.connect()) {
        UncleanElection.Plan plan = UncleanElection.plan(zk, where.paths(), shard, node);
        out.println(plan.warning());
        out.println();
        if (!yes) {
          out.println("Would write: " + plan.describe());
          out.println("Nothing was changed. Run again with --yes to do it.");
          out.flush();
          return Main.FAILED;
        }
        UncleanElection.execute(zk, where.paths(), plan);
        out.println("Done: " + plan.describe().replace(" would lead", " leads"));
        out.flush();
      } catch (ClusterException e) {
        throw new Failures.CommandFailure(e.getMessage(), e);
      }
      return 0;
    }
  }

  /** The pre-replication command, kept so that old runbooks get directions, not "unknown". */
  @Command(name = "accept-data-loss", hidden = true,
      description = "Replaced by elect-unclean.")
  static final class AcceptDataLoss implements Callable<Integer> {
    @Option(names = "--shard", paramLabel = "N") Integer shard;
    @Mixin ClusterOptions where;

    @Override
    public Integer call() {
      throw new Failures.CommandFailure("accept-data-loss is replaced by 'bin/dedupe admin"
          + " elect-unclean --shard S --node N': with replicas, accepting a loss means choosing"
          + " which replica leads with what it holds; 'admin status' shows the candidates");
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

    Optional<ShardStates> states = ClusterState.readShardStates(zk, paths);
    Map<String, NodeRegistration> live = ClusterState.liveRegistrations(zk, paths);
    Map<String, List<Integer>> leads = new TreeMap<>();
    Map<String, List<Integer>> holds = new TreeMap<>();
    states.ifPresent(all -> all.states().values().forEach(s -> {
      if (s.hasLeader()) {
        leads.computeIfAbsent(s.leader(), n -> new ArrayList<>()).add(s.shard());
      }
      s.replicas().forEach(r -> holds.computeIfAbsent(r, n -> new ArrayList<>()).add(s.shard()));
    }));
    java.util.Set<String> nodes = new java.util.TreeSet<>(live.keySet());
    nodes.addAll(holds.keySet());

    out.println();
    out.printf("%-14s %-22s %-10s %-12s %-24s %s%n",
        "NODE", "GRPC", "ZONE", "HEALTH", "LEADS", "REPLICA OF");
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    for (String id : nodes) {
      NodeRegistration info = live.get(id);
      out.printf("%-14s %-22s %-10s %-12s %-24s %s%n", id,
          info == null ? "-" : info.grpc(),
          info == null || info.zone().isEmpty() ? "-" : info.zone(),
          info == null ? "DOWN" : ready(http, info.ops()),
          leads.getOrDefault(id, List.of()), holds.getOrDefault(id, List.of()));
    }
    java.util.SortedSet<String> drained = ClusterState.drainedNodes(zk, paths);
    java.util.SortedSet<String> decommissioned = ClusterState.decommissionedNodes(zk, paths);
    if (!drained.isEmpty() || !decommissioned.isEmpty()) {
      out.println("drained (no new replicas or leaders): " + (drained.isEmpty() ? "none"
          : String.join(", ", drained)) + "; decommissioned: " + (decommissioned.isEmpty()
          ? "none" : String.join(", ", decommissioned)));
    }
    out.println();
    if (states.isEmpty()) {
      out.println("shards: not formed yet (the controller waits for its initial nodes and for"
          + " replication-factor live nodes)");
      return;
    }
    out.println("shards (* = replica not in sync):");
    out.printf("%-6s %-14s %-6s %-36s %s%n", "SHARD", "LEADER", "EPOCH", "REPLICAS", "STATUS");
    int full = 0;
    int under = 0;
    int offline = 0;
    for (ShardState s : states.get().states().values()) {
      String replicas = String.join(",", s.replicas().stream()
          .map(r -> s.inSync(r) ? r : r + "*").toList());
      String status;
      if (!s.hasLeader()) {
        offline++;
        status = "OFFLINE: no in-sync replica is live (last in sync: "
            + String.join(", ", s.isrInReplicaOrder()) + ")" + lost(s, live);
      } else if (LeaderElection.fullyReplicated(s)) {
        full++;
        status = "ok" + leaderNote(s, live);
      } else {
        under++;
        status = "UNDER-REPLICATED: " + LeaderElection.outOfSync(s) + " not in sync"
            + leaderNote(s, live);
      }
      out.printf("%-6d %-14s %-6d %-36s %s%n", s.shard(),
          s.hasLeader() ? s.leader() : "(none)", s.epoch(), replicas, status);
    }
    out.printf("%d shards: %d fully replicated, %d under-replicated, %d offline%n",
        states.get().shardCount(), full, under, offline);
  }

  /** What the node table cannot show: a leader that is down or whose data is gone. */
  private static String leaderNote(ShardState s, Map<String, NodeRegistration> live) {
    NodeRegistration leader = live.get(s.leader());
    if (leader == null) {
      return "; leader DOWN (the controller elects another in-sync replica)";
    }
    String open = leader.stores().get(s.shard());
    String inSync = s.isr().getOrDefault(s.leader(), "");
    if (open != null && !inSync.isEmpty() && !open.equals(inSync)) {
      return "; leader's data LOST (it has another store than the one in sync)";
    }
    return "";
  }

  /** For an offline shard: in-sync members that are live but came back with another store. */
  private static String lost(ShardState s, Map<String, NodeRegistration> live) {
    List<String> lost = new ArrayList<>();
    s.isr().forEach((node, store) -> {
      NodeRegistration r = live.get(node);
      String open = r == null ? null : r.stores().get(s.shard());
      if (open != null && !store.isEmpty() && !open.equals(store)) {
        lost.add(node);
      }
    });
    return lost.isEmpty() ? "" : "; data LOST on " + lost + " (live with another store):"
        + " restore it, or 'admin elect-unclean'";
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
