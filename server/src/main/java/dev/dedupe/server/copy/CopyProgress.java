package dev.dedupe.server.copy;

import java.util.Objects;

/**
 * How far a leader has brought a follower that is not in sync, as it publishes it (at most once
 * a second, in its ephemeral znode {@code copies/<NNNN>-<follower>}) and as {@code ListMoves}
 * shows it for a move in CATCH_UP.
 *
 * @param shard the shard
 * @param follower the node being copied to (a move's target)
 * @param leader the node copying (the shard's leader)
 * @param snapshotting whether a snapshot is being sent now; false once it is installed and the
 *     follower catches up from the log (or when it needed no snapshot)
 * @param bytesCopied snapshot bytes the follower has accepted in this copy, the ones a resumed
 *     copy skipped included; -1 when no snapshot was sent
 * @param bytesTotal the snapshot's size in bytes: an estimate while it is sent (from RocksDB's
 *     table properties and memtables, see {@code totalEstimated}), exact once it is installed;
 *     -1 when no snapshot was sent
 * @param totalEstimated whether {@code bytesTotal} is an estimate
 * @param bytesPerSecond the rate of the last few seconds, in bytes per second
 * @param lagEntries entries of the leader's log the follower has not acknowledged, -1 when not
 *     known (it has not answered this leader yet)
 * @param updatedMillis when the leader published it, wall-clock milliseconds since the epoch
 */
public record CopyProgress(int shard, String follower, String leader, boolean snapshotting,
    long bytesCopied, long bytesTotal, boolean totalEstimated, long bytesPerSecond,
    long lagEntries, long updatedMillis) {

  public CopyProgress {
    Objects.requireNonNull(follower, "follower");
    Objects.requireNonNull(leader, "leader");
  }

  /** Seconds until the snapshot is sent at the current rate, or -1 when it cannot be told. */
  public long etaSeconds() {
    if (!snapshotting || bytesTotal <= 0 || bytesPerSecond <= 0 || bytesCopied < 0) {
      return -1;
    }
    return Math.max(0, (bytesTotal - bytesCopied) / bytesPerSecond);
  }
}
