package dev.dedupe.server.cluster;

import dev.dedupe.server.replication.LeaderElection;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.replication.VersionedShardState;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.data.Stat;

/**
 * An admin's unclean election ({@code bin/dedupe admin elect-unclean}): a shard whose in-sync
 * replicas cannot come back is led by a live replica with whatever its store holds, in sync
 * alone ({@link LeaderElection#unclean}). Ids acknowledged by the lost replicas and missing
 * there may be NEW again, which the admin must accept explicitly.
 *
 * <p>Written like a controller's change: one transaction that checks the controller-epoch
 * znode at the version read (so it never lands across a change of controller) and sets the
 * shard znode at the version read (so it never overwrites a concurrent election or in-sync
 * change). A conflict is reported, not retried blindly.
 */
public final class UncleanElection {

  /**
   * What the election would write.
   *
   * @param read the shard's state as read, with its version
   * @param next the state it would write
   * @param controllerEpoch the controller-epoch znode's version read with it
   */
  public record Plan(VersionedShardState read, ShardState next, int controllerEpoch) {

    /** One line: what changes. */
    public String describe() {
      ShardState s = read.state();
      return "shard " + s.shard() + ": node " + next.leader() + " would lead at epoch "
          + next.epoch() + ", in sync alone with store " + next.isr().get(next.leader())
          + " (now: leader " + (s.hasLeader() ? s.leader() : "none") + " at epoch " + s.epoch()
          + ", in sync " + s.isr() + ")";
    }

    /** The warning an admin must read before saying yes. */
    public String warning() {
      ShardState s = read.state();
      List<String> lost = s.isrInReplicaOrder().stream()
          .filter(n -> !n.equals(next.leader())).toList();
      return "WARNING: THIS MAY LOSE ACKNOWLEDGED DATA. Node " + next.leader() + " is "
          + (s.inSync(next.leader()) ? "in sync, but with another store than the one it was"
              + " in sync with" : "NOT in sync")
          + " for shard " + s.shard() + ". Every id acknowledged on shard " + s.shard()
          + " that its store does not hold" + (lost.isEmpty() ? "" : " (held by " + lost + ")")
          + " may be answered NEW again, and its side effect done twice. Do this only when"
          + " those replicas cannot come back; if one can, start it instead and the controller"
          + " elects it with no loss.";
    }
  }

  private UncleanElection() {}

  /**
   * Reads the shard and works out the unclean election, without writing.
   *
   * @throws ClusterException if the cluster has not formed, the shard or node is not valid,
   *     the node is not live with the shard open, or a clean election is possible already
   */
  public static Plan plan(CuratorFramework zk, ClusterPaths paths, int shard, String node)
      throws Exception {
    Stat epoch = zk.checkExists().forPath(paths.controllerEpoch());
    if (epoch == null) {
      throw new ClusterException("the cluster has no controller yet; try again in a moment", null);
    }
    ShardStates states = ClusterState.readShardStates(zk, paths).orElseThrow(
        () -> new ClusterException("the cluster has not formed yet: no shard to elect for", null));
    if (shard < 0 || shard >= states.shardCount()) {
      throw new ClusterException("--shard must be 0 to " + (states.shardCount() - 1)
          + ", was " + shard, null);
    }
    VersionedShardState read = states.versioned(shard);
    ShardState s = read.state();
    Map<String, String> liveStores =
        ClusterState.liveStores(ClusterState.liveRegistrations(zk, paths), shard);
    if (s.isLeader(node) && liveStores.containsKey(node)
        && liveStores.get(node).equals(s.isr().get(node))) {
      throw new ClusterException("node " + node + " already leads shard " + shard
          + " with its in-sync store; nothing to do", null);
    }
    ShardState next;
    try {
      next = LeaderElection.unclean(s, node, liveStores);
    } catch (IllegalArgumentException e) {
      throw new ClusterException(e.getMessage(), e);
    }
    return new Plan(read, next, epoch.getVersion());
  }

  /**
   * Writes the plan, fenced.
   *
   * @throws ClusterException if the controller or the shard changed since the plan was read
   */
  public static void execute(CuratorFramework zk, ClusterPaths paths, Plan plan) throws Exception {
    FencedTransaction.Failure failed = FencedTransaction.commit(zk, List.of(
        zk.transactionOp().check().withVersion(plan.controllerEpoch())
            .forPath(paths.controllerEpoch()),
        zk.transactionOp().setData().withVersion(plan.read().version())
            .forPath(paths.shard(plan.next().shard()), ShardStateJson.toJson(plan.next()))));
    if (failed != null) {
      throw new ClusterException("the " + (failed.op() == 0 ? "controller" : "shard's state")
          + " changed while electing (" + failed.code() + "); nothing was written. Run the"
          + " command again to see the new state", null);
    }
  }
}
