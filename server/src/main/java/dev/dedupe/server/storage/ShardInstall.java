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
 *
 * <p>Resumable across a restart: after each chunk it accepts, the follower saves where the
 * install stands ({@link #stage}: the install id, the next chunk, the header, the keys and
 * the checksum so far) in the shard's metadata, synced, which also makes the chunks before it
 * durable. A shard whose metadata holds a stage and no shard id is kept at the next open, as
 * an install to go on with ({@link NodeStore#resumeInstall}), not dropped; its leader resumes
 * from the stage's next chunk under the same install id. A chunk 0 of another install
 * replaces it as before. Chunks written after the last stage are written again (a put of the
 * same key and value), so the copy ends the same.
 */
public final class ShardInstall {

  private final NodeStore owner;
  private final int shard;
  private SnapshotChunk.Header header;
  private final Set<Long> buckets = new HashSet<>();
  private long keys;
  private long expectedKeys = -1;
  private long expectedChecksum;
  private SnapshotChunk.DataChecksum checksum = new SnapshotChunk.DataChecksum();
  private boolean done;

  ShardInstall(NodeStore owner, int shard) {
    this.owner = owner;
    this.shard = shard;
  }

  /** An install taken up again from the stage a restart left (its buckets exist already). */
  static ShardInstall resumed(NodeStore owner, int shard, InstallStage stage) {
    ShardInstall install = new ShardInstall(owner, shard);
    install.header = stage.header();
    install.buckets.addAll(stage.header().buckets());
    install.keys = stage.keys();
    install.checksum = SnapshotChunk.DataChecksum.resumed(stage.checksum(),
        stage.checksumLength());
    return install;
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
   * Saves, synced, that the chunks accepted so far are durable and the install expects chunk
   * {@code nextIndex} of {@code installId} next: a restart from here on resumes the install.
   * Does nothing before the header came.
   */
  public void stage(String installId, long epoch, long nextIndex) {
    if (done || header == null) {
      return;
    }
    owner.stageInstall(shard, new InstallStage(installId, epoch, nextIndex, header, keys,
        checksum.value(), checksum.length()));
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
