package dev.dedupe.server.shard;

import dev.dedupe.server.storage.ShardStore;
import java.util.List;
import java.util.Map;

/**
 * What one shard store holds at one moment, read on its writer thread.
 *
 * @param shard the shard
 * @param keysByNamespace records held per namespace, over all buckets
 * @param diskBytes the shard's table files (the write-ahead log is the node's, shared by all
 *     shards, and counted once in {@link NodeFigures#diskBytes})
 * @param bucketStarts the buckets held, oldest first
 * @param budgetHorizonMillis end of the newest bucket dropped for the disk budget, or 0
 * @param pendingCompactionBytes RocksDB's estimate of bytes compaction still has to rewrite
 * @param memtableBytes memory in the shard's memtables
 */
public record ShardFigures(
    int shard,
    Map<String, Long> keysByNamespace,
    long diskBytes,
    List<Long> bucketStarts,
    long budgetHorizonMillis,
    long pendingCompactionBytes,
    long memtableBytes) {

  /** Reads the figures; call on the shard's writer thread (see {@link ShardWriter#submit}). */
  public static ShardFigures collect(ShardStore store) {
    return new ShardFigures(
        store.shardId(),
        store.namespaceKeyCounts(),
        store.diskBytes(),
        store.bucketStarts(),
        store.budgetHorizonMillis(),
        store.longProperty("rocksdb.estimate-pending-compaction-bytes"),
        store.longProperty("rocksdb.cur-size-all-mem-tables"));
  }

  public long totalKeys() {
    return keysByNamespace.values().stream().mapToLong(Long::longValue).sum();
  }
}
