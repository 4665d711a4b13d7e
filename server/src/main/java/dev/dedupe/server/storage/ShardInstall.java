package dev.dedupe.server.storage;

import java.util.HashSet;
import java.util.Set;

/**
 * A follower's copy of a shard being replaced by its leader's snapshot, fed chunk by chunk
 * ({@link #accept}) and completed by {@link #finish}. Begun by {@link NodeStore#beginInstall}
 * with the shard closed, after its old data was deleted.
 *
 * <p>Crash-safe by the node store's rule: a shard counts only once its metadata holds its
 * shard id, and that is the synced last write of {@link #finish}. Buckets an install left
 * without it are dropped when the database opens next, so a crash midway leaves the shard
 * empty (a new store, position EMPTY), never half-copied and looking whole. The data writes
 * are not synced; the final synced write makes every one before it durable (one log).
 */
public final class ShardInstall {

  private final NodeStore owner;
  private final int shard;
  private SnapshotChunk.Header header;
  private final Set<Long> buckets = new HashSet<>();
  private long keys;
  private long expectedKeys = -1;
  private long expectedChecksum;
  private final SnapshotChunk.DataChecksum checksum = new SnapshotChunk.DataChecksum();
  private boolean done;

  ShardInstall(NodeStore owner, int shard) {
    this.owner = owner;
    this.shard = shard;
  }

  public int shard() {
    return shard;
  }

  /** Adds one chunk, in the order the snapshot gave them. */
  public void accept(SnapshotChunk chunk) {
    if (done) {
      throw new StorageException("shard " + shard + ": the install is over");
    }
    switch (chunk) {
      case SnapshotChunk.Header h -> {
        if (header != null) {
          throw new StorageException("shard " + shard + ": a second snapshot header");
        }
        header = h;
        for (long b : h.buckets()) {
          owner.installBucket(shard, b);
          buckets.add(b);
        }
      }
      case SnapshotChunk.Data d -> {
        if (header == null || !buckets.contains(d.bucketStart())) {
          throw new StorageException("shard " + shard + ": snapshot data for bucket "
              + d.bucketStart() + " that its header does not list");
        }
        owner.installData(shard, d);
        keys += d.keys().size();
        checksum.add(d);
      }
      case SnapshotChunk.End e -> {
        expectedKeys = e.keys();
        expectedChecksum = e.checksum();
      }
    }
  }

  /**
   * Checks that every chunk came and makes the copy the shard's data, with a new store
   * identity.
   *
   * @return the position the shard is at now
   * @throws StorageException if chunks are missing; the shard is then left deleted
   */
  public LogPosition finish() {
    if (header == null || expectedKeys != keys) {
      abort();
      throw new StorageException("shard " + shard + ": the snapshot is incomplete (" + keys
          + " keys received, " + (expectedKeys < 0 ? "no end seen" : expectedKeys + " sent")
          + "); the shard is left empty");
    }
    if (expectedChecksum != checksum.value()) {
      abort();
      throw new StorageException("shard " + shard + ": the snapshot's checksum does not match ("
          + Long.toHexString(checksum.value()) + " received, "
          + Long.toHexString(expectedChecksum) + " sent); the shard is left empty");
    }
    owner.installMeta(shard, header);
    done = true;
    return header.position();
  }

  /** Gives up: the shard's partial data is deleted. */
  public void abort() {
    if (!done) {
      done = true;
      owner.abortInstall(shard);
    }
  }
}
