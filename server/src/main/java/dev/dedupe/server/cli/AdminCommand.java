package dev.dedupe.server.cli;

import dev.dedupe.server.cluster.ClusterException;
import dev.dedupe.server.cluster.ClusterPaths;
import dev.dedupe.server.cluster.UncleanElection;
import java.io.PrintWriter;
import java.time.Duration;
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
      description = {"The controller; each node with its health, its replica, leader and",
          "preferred-leader counts, and flags (DOWN, drained, decommissioned, empty until",
          "a rebalance); the shards that are not ok (--all: every shard); and last what",
          "the cluster needs: shards offline or under-replicated, unbalanced (exactly when",
          "'admin rebalance --dry-run' would change something), plans and moves running,",
          "the copy throttle."})
  static final class Status implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ClusterOptions where;

    @Option(names = "--all", description = {"List every shard, not only those that are not ok,",
        "and the shards each node leads and holds."})
    boolean all;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      try (CuratorFramework zk = where.connect()) {
        ClusterPaths paths = where.paths();
        if (zk.checkExists().forPath(paths.root()) == null) {
          out.println("cluster " + where.cluster + " at " + where.zk);
          out.println("  no such cluster (nothing under " + paths.root() + ")");
        } else {
          out.print(StatusReport.render(ClusterStatus.of(
              StatusReading.read(zk, paths, where.cluster, where.zk)), all));
        }
      }
      out.flush();
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
}
