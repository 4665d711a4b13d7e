package dev.dedupe.server.cluster;

import dev.dedupe.server.replication.LeaderHandover;
import java.util.concurrent.CompletableFuture;

/**
 * How the controller asks a shard's leader to get ready to hand its leadership over
 * ({@link LeaderHandover}): the replication runtime supplies one over gRPC. Never blocks the
 * caller: the answer completes the future.
 */
@FunctionalInterface
public interface HandoverRequests {

  /** Reaches no leader: every handover fails, and leaders change only by election. */
  HandoverRequests NONE = (leader, shard, epoch, to) -> CompletableFuture.failedFuture(
      new IllegalStateException("this node cannot ask leaders to hand over"));

  /**
   * @return completes with the leader's readiness (its final log position and the znode
   *     version to write the new leader at), or fails if it refused, could not be reached, or
   *     was not ready in time
   */
  CompletableFuture<LeaderHandover.Ready> prepare(String leader, int shard, long epoch, String to);
}
