package dev.dedupe.server.storage;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;
import org.rocksdb.Snapshot;

/**
 * A consistent copy of one shard at one log position, read as {@link SnapshotChunk}s: taken on
 * the shard's own thread between entries (a RocksDB snapshot, so it costs nothing up front),
 * then read on another thread while the shard goes on. Buckets dropped meanwhile stay readable:
 * the store closes their handles only after every snapshot is closed.
 *
 * <p>One reader at a time. Close it when done, or when giving up: it releases the RocksDB
 * snapshot and lets the store close the handles it kept for it. The node's database must not
 * close while a snapshot is open; the node stops its snapshot readers before.
 */
public final class ShardSnapshot implements AutoCloseable {

  /** About how many bytes of keys and values one data chunk carries. */
  public static final int CHUNK_BYTES = 1 << 20;

  private final RocksDB db;
  private final Snapshot snapshot;
  private final ReadOptions reads;
  private final List<Map.Entry<Long, ColumnFamilyHandle>> buckets;
  private final SnapshotChunk.Header header;
  private final Runnable onClose;
  private final long estimatedBytes;
  private int bucket = -1;
  private RocksIterator it;
  private long keys;
  private final SnapshotChunk.DataChecksum checksum = new SnapshotChunk.DataChecksum();
  private boolean ended;
  private boolean closed;

  ShardSnapshot(RocksDB db, List<Map.Entry<Long, ColumnFamilyHandle>> buckets,
      SnapshotChunk.Header header, long estimatedBytes, Runnable onClose) {
    this.estimatedBytes = estimatedBytes;
    this.db = db;
    this.snapshot = db.getSnapshot();
    this.reads = new ReadOptions().setSnapshot(snapshot).setFillCache(false);
    this.buckets = List.copyOf(buckets);
    this.header = header;
    this.onClose = onClose;
  }

  /**
   * About how many bytes its chunks will take encoded, known before reading them: the raw key
   * and value sizes RocksDB's table properties record, 8 bytes of lengths per key, plus the
   * memtables' size. An estimate (memtables hold overwritten versions and their own overhead;
   * table files may hold keys a newer version hides), or -1 when RocksDB could not say.
   */
  public long estimatedBytes() {
    return estimatedBytes;
  }

  /** The log position the copy is at. */
  public LogPosition position() {
    return header.position();
  }

  /** The next chunk: the header first, then data, then the end; null after the end. */
  public SnapshotChunk next() {
    if (closed) {
      throw new StorageException("the snapshot is closed");
    }
    if (bucket < 0) {
      bucket = 0;
      return header;
    }
    while (bucket < buckets.size()) {
      if (it == null) {
        it = db.newIterator(buckets.get(bucket).getValue(), reads);
        it.seekToFirst();
      }
      if (it.isValid()) {
        List<byte[]> ks = new ArrayList<>();
        List<byte[]> vs = new ArrayList<>();
        long bytes = 0;
        while (it.isValid() && bytes < CHUNK_BYTES) {
          byte[] k = it.key();
          byte[] v = it.value();
          ks.add(k);
          vs.add(v);
          bytes += k.length + v.length;
          it.next();
        }
        keys += ks.size();
        SnapshotChunk.Data data = new SnapshotChunk.Data(buckets.get(bucket).getKey(), ks, vs);
        checksum.add(data);
        return data;
      }
      it.close();
      it = null;
      bucket++;
    }
    if (!ended) {
      ended = true;
      return new SnapshotChunk.End(keys, checksum.value());
    }
    return null;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (it != null) {
      it.close();
    }
    reads.close();
    db.releaseSnapshot(snapshot);
    snapshot.close();
    onClose.run();
  }
}
