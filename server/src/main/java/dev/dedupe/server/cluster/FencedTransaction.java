package dev.dedupe.server.cluster;

import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.OpResult;

/**
 * Runs one ZooKeeper transaction and says which operation failed and why, so that callers can
 * tell a fence that refused (the controller epoch check) from a state that changed (a shard
 * znode's version): the first is {@link NotControllerException}, the second a re-read.
 */
final class FencedTransaction {

  /** The operation that failed first (its index) and ZooKeeper's code; null for success. */
  record Failure(int op, KeeperException.Code code) {}

  private FencedTransaction() {}

  /** The check every controller write carries: the controller epoch is still {@code epoch}. */
  static CuratorOp epochCheck(CuratorFramework zk, ClusterPaths paths, long epoch)
      throws Exception {
    return zk.transactionOp().check().withVersion((int) epoch).forPath(paths.controllerEpoch());
  }

  /**
   * @return null if every operation was applied, else the one that failed (nothing was applied)
   * @throws Exception if ZooKeeper could not be reached; nothing may be assumed applied
   */
  static Failure commit(CuratorFramework zk, List<CuratorOp> ops) throws Exception {
    List<Integer> errors;
    try {
      List<CuratorTransactionResult> results = zk.transaction().forOperations(ops);
      errors = results.stream().map(CuratorTransactionResult::getError).toList();
    } catch (KeeperException e) {
      if (e.getResults() == null) {
        throw e;
      }
      errors = e.getResults().stream()
          .map(r -> r instanceof OpResult.ErrorResult err ? err.getErr() : 0).toList();
    }
    for (int i = 0; i < errors.size(); i++) {
      int err = errors.get(i);
      // ZooKeeper answers RUNTIMEINCONSISTENCY for the operations after the one that failed.
      if (err != 0 && err != KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()) {
        return new Failure(i, KeeperException.Code.get(err));
      }
    }
    return null;
  }
}
