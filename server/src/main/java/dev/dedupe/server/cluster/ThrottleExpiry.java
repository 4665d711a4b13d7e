package dev.dedupe.server.cluster;

import dev.dedupe.server.copy.ByteRate;
import dev.dedupe.server.moves.MoveJob;
import java.util.List;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * "A throttle ends with its move": the controller deletes the throttle once a pass over the
 * jobs finds none running and some job that finished after the throttle was set. So a
 * throttle set before a move is requested is not cleared before the move begins (no job
 * finished since it was set), and a throttle is never left behind after the moves it was set
 * for (Kafka's complaint: its reassignment throttles stay until an admin runs --verify).
 *
 * <p>The delete is fenced like every controller write and conditional on the version read, so
 * an admin's new rate set meanwhile survives (the next pass decides again on it). Times are
 * wall-clock: the job's update time (the controller's clock) against the throttle's set time
 * (the asked node's clock); a skew between them matters only for a job that finished within
 * the skew of the throttle's setting.
 */
final class ThrottleExpiry {

  private static final Logger log = LoggerFactory.getLogger(ThrottleExpiry.class);

  private ThrottleExpiry() {}

  /**
   * The rule, pure: whether a throttle set at {@code setMillis} ends, given every job kept.
   */
  static boolean ends(long setMillis, List<MoveJob> jobs) {
    return jobs.stream().noneMatch(MoveJob::running)
        && jobs.stream().anyMatch(j -> j.updatedMillis() >= setMillis);
  }

  /**
   * Deletes the throttle if {@link #ends} says so. Controller thread only.
   *
   * @throws NotControllerException if another controller took over since {@code myEpoch}
   */
  static void check(CuratorFramework zk, ClusterPaths paths, long myEpoch, String nodeId,
      List<MoveJob> jobs) throws Exception {
    if (jobs.isEmpty() || jobs.stream().anyMatch(MoveJob::running)) {
      return;
    }
    Optional<ZkThrottle.Versioned> read = ZkThrottle.read(zk, paths);
    if (read.isEmpty() || !ends(read.get().throttle().setMillis(), jobs)) {
      return;
    }
    FencedTransaction.Failure failed = FencedTransaction.commit(zk, List.of(
        FencedTransaction.epochCheck(zk, paths, myEpoch),
        zk.transactionOp().delete().withVersion(read.get().version()).forPath(paths.throttle())));
    if (failed == null) {
      log.info("node {}: the moves finished; clearing the copy throttle of {}", nodeId,
          ByteRate.format(read.get().throttle().bytesPerSecond()));
      return;
    }
    if (failed.op() == 0) {
      throw new NotControllerException(myEpoch, "clearing the copy throttle");
    }
    if (failed.code() != KeeperException.Code.BADVERSION
        && failed.code() != KeeperException.Code.NONODE) {
      throw new ClusterException("clearing the copy throttle failed: " + failed.code(), null);
    }
    // An admin changed or cleared it meanwhile: the next pass decides on what is there.
  }
}
