package dev.dedupe.server.shard;

import dev.dedupe.server.storage.Holding;
import dev.dedupe.server.storage.StoredRecord;
import java.util.ArrayList;
import java.util.List;

/**
 * One id's records as this round has left them so far: the store's state plus the round's
 * own writes, which reach the store only with the round's write batch. At most one record of
 * an id is ever within its window: a new one is written only when none is, and a lease taken
 * over replaces the expired one.
 */
final class KeyState {
  /** The newest record, or null once removed. */
  StoredRecord newest;
  /** The bucket that holds {@link #newest}. */
  long newestBucket;
  /** Whether a record sits in the current bucket (a put there replaces it). */
  boolean inCurrentBucket;
  /**
   * The request whose CheckAndInsert made or replayed {@link #newest} in this round, or null:
   * a repeat of the id later in that same request is a DUPLICATE, not another NEW.
   */
  Object recordedBy;
  /** Older buckets that hold a record of the id (past the window, unless newest). */
  final List<Long> olderBuckets = new ArrayList<>(1);

  KeyState(Holding[] held, long currentBucket) {
    if (held.length > 0) {
      newest = held[0].record();
      newestBucket = held[0].bucketStart();
    }
    for (Holding h : held) {
      if (h.bucketStart() == currentBucket) {
        inCurrentBucket = true;
      } else {
        olderBuckets.add(h.bucketStart());
      }
    }
  }

  /** The record that decides, if it is within the window. */
  StoredRecord visible(long windowStart) {
    return newest != null && newest.firstSeenMillis() > windowStart ? newest : null;
  }
}
