package dev.dedupe.server.cluster;

import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * An admin's explicit decision that a shard's data is gone for good: the store its owner has
 * open now (created empty after a lost disk) is recorded in place of the lost one, so the owner
 * serves the shard again, and ids acknowledged before the loss may be NEW again.
 *
 * <p>Like every assignment write, it is one transaction fenced on the controller epoch: it
 * checks that the controller-epoch znode and the assignment are at the versions it read, so
 * it never overwrites a controller's concurrent change and never lands across a change of
 * controller. A conflict is reported, not retried blindly.
 */
public final class DataLossAcceptance {

  private DataLossAcceptance() {}

  private static ClusterException changedMeanwhile() {
    return new ClusterException(
        "the assignment or the controller changed while accepting; run the command again", null);
  }

  /**
   * Records the owner's current store for {@code shard}.
   *
   * @return what was done, in one line for the admin
   * @throws ClusterException if there is nothing to accept, the owner is not running, or the
   *     assignment changed meanwhile
   */
  public static String accept(CuratorFramework zk, ClusterPaths paths, int shard) throws Exception {
    Stat epoch = zk.checkExists().forPath(paths.controllerEpoch());
    if (epoch == null) {
      throw new ClusterException("the cluster has no controller yet; try again in a moment", null);
    }
    Stat stat = new Stat();
    byte[] data;
    try {
      data = zk.getData().storingStatIn(stat).forPath(paths.assignment());
    } catch (KeeperException.NoNodeException e) {
      throw new ClusterException("the cluster has not formed yet: no shard to accept", null);
    }
    ShardAssignment assignment = ShardAssignment.fromJson(data).orElseThrow(
        () -> new ClusterException("the cluster has not formed yet: no shard to accept", null));
    if (shard < 0 || shard >= assignment.shardCount()) {
      throw new ClusterException("--shard must be 0 to " + (assignment.shardCount() - 1)
          + ", was " + shard, null);
    }
    ShardAssignment.Entry entry = assignment.shard(shard);
    NodeRegistration owner = ClusterState.readRegistration(zk, paths, entry.owner())
        .orElseThrow(() -> new ClusterException("shard " + shard + "'s owner " + entry.owner()
            + " is not running; start it first, so that it opens a store to accept", null));
    String store = owner.stores().get(shard);
    if (store == null) {
      throw new ClusterException("node " + entry.owner() + " has not opened shard " + shard
          + " yet; try again in a moment", null);
    }
    if (store.equals(entry.storeId())) {
      throw new ClusterException("shard " + shard + " on node " + entry.owner()
          + " already has its recorded store " + store + "; no data is lost", null);
    }
    List<CuratorTransactionResult> results;
    try {
      results = zk.transaction().forOperations(
          zk.transactionOp().check().withVersion(epoch.getVersion())
              .forPath(paths.controllerEpoch()),
          zk.transactionOp().setData().withVersion(stat.getVersion())
              .forPath(paths.assignment(), assignment.withStore(shard, store).toJson()));
    } catch (KeeperException.BadVersionException e) {
      throw changedMeanwhile();
    }
    if (results.stream().anyMatch(r -> r.getError() != 0)) {
      throw changedMeanwhile();
    }
    return "shard " + shard + " on node " + entry.owner() + ": accepted the loss of store "
        + (entry.storeRecorded() ? entry.storeId() : "(none recorded)") + "; serving from store "
        + store + ". Ids acknowledged before the loss may be NEW again.";
  }
}
