package dev.dedupe.server.shard;

import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.ShardWrite;
import dev.dedupe.server.storage.StoredRecord;

/** The round being decided: its time, its bucket, and the writes it has made so far. */
final class Round {
  final long now;
  final long currentBucket;
  final ShardWrite write = new ShardWrite();

  Round(long now, BucketGrid grid) {
    this.now = now;
    this.currentBucket = grid.startOf(now);
  }

  /**
   * Writes a new record in the current bucket.
   *
   * @param takesOver whether it replaces a visible record (an expired lease), which must go
   *     so that one record decides; records past the window are left to their bucket's drop
   */
  void record(byte[] digest, String namespace, KeyState key, StoredRecord record,
      boolean takesOver) {
    if (takesOver && key.newestBucket != currentBucket
        && key.olderBuckets.remove((Long) key.newestBucket)) {
      // A lease taken over: the expired lease's record goes, so one record decides.
      write.delete(digest, namespace, key.newestBucket);
    }
    write.put(digest, namespace, currentBucket, record, !key.inCurrentBucket);
    key.inCurrentBucket = true;
    key.newest = record;
    key.newestBucket = currentBucket;
  }

  /** Rewrites the id's newest record where it is (commit, lease change). */
  void update(byte[] digest, String namespace, KeyState key, StoredRecord record) {
    write.put(digest, namespace, key.newestBucket, record, false);
    key.newest = record;
  }

  /** Deletes the id's newest record. */
  void removeNewest(byte[] digest, String namespace, KeyState key) {
    write.delete(digest, namespace, key.newestBucket);
    if (key.newestBucket == currentBucket) {
      key.inCurrentBucket = false;
    } else {
      key.olderBuckets.remove((Long) key.newestBucket);
    }
    key.newest = null;
  }

  /** Deletes every record of the id. */
  void removeAll(byte[] digest, String namespace, KeyState key) {
    for (long bucket : key.olderBuckets) {
      write.delete(digest, namespace, bucket);
    }
    key.olderBuckets.clear();
    if (key.inCurrentBucket) {
      write.delete(digest, namespace, currentBucket);
      key.inCurrentBucket = false;
    }
    key.newest = null;
  }
}
