package dev.dedupe.server.storage;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.rocksdb.ColumnFamilyHandle;

/**
 * The open column family handles of one shard in the node's database: its metadata family and
 * its buckets. RocksDB makes a handle for an existing column family only when the database
 * opens, so a handle lives as long as its column family, not as long as a shard store: the
 * {@link NodeStore} keeps a shard's handles while the shard is closed and lends them to its
 * {@link RocksShardStore} while it is open, and a handle is closed only when its column family
 * is dropped or the database closes.
 *
 * <p>Not thread-safe: touched by the node store under its lock, or by the one writer thread
 * that has the shard open.
 */
final class ShardColumnFamilies {

  final int shard;
  /** The metadata family; null until the shard has been created or imported. */
  ColumnFamilyHandle meta;
  /** Bucket start to its column family, ascending. */
  final TreeMap<Long, ColumnFamilyHandle> buckets = new TreeMap<>();

  ShardColumnFamilies(int shard) {
    this.shard = shard;
  }

  /** Every handle, the metadata family first. */
  List<ColumnFamilyHandle> all() {
    List<ColumnFamilyHandle> all = new ArrayList<>(buckets.size() + 1);
    if (meta != null) {
      all.add(meta);
    }
    all.addAll(buckets.values());
    return all;
  }

  void closeAll() {
    all().forEach(ColumnFamilyHandle::close);
    meta = null;
    buckets.clear();
  }
}
