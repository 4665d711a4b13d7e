package dev.dedupe.server.storage;

import java.util.List;
import java.util.Map;

/**
 * One shard's durable records, in time buckets.
 *
 * <p>Not thread-safe by design: a shard has exactly one write path ({@code ShardWriter}), which
 * calls every method from its own thread, so lookups, writes and bucket drops never race and a
 * native handle is never used after it was closed. That one path is also where replication
 * will forward writes. A store's data is a set of column families of the node's database,
 * which can be exported, imported and dropped as a whole (see {@link NodeStore}).
 */
public interface ShardStore extends AutoCloseable {

  /** The shard this store holds. */
  int shardId();

  /**
   * This store's identity: made when the store was created and kept for its life. The cluster
   * records it per shard, so that a node whose data was lost (an empty store under the same
   * node id) is recognised instead of answering NEW for ids it had acknowledged.
   */
  String storeId();

  /** Starts of the buckets held, oldest first. */
  List<Long> bucketStarts();

  /** Creates the bucket that starts at {@code start} unless it exists. */
  void ensureBucket(long start);

  /** Drops a bucket whole, with every record in it. */
  void dropBucket(long start);

  /**
   * For each digest, its records in buckets that end after {@code sinceMillis}, newest bucket
   * first; an empty array where none is held. One batched read for the whole list.
   */
  Holding[][] lookup(List<byte[]> digests, long sinceMillis);

  /**
   * Applies a write atomically, durable as the store's durability setting says: the round's
   * next entry at the store's own epoch. For tests and tools; the write path uses
   * {@link #prepare} and {@link #apply}.
   */
  void write(ShardWrite write);

  /** The position of the last log entry applied; {@link LogPosition#EMPTY} for none. */
  LogPosition position();

  /** The epochs of the entries applied, each with its first seq, oldest first. */
  List<EpochStart> epochHistory();

  /** A round's write as the shard's next log entry (see {@link LogEntry}). */
  LogEntry prepare(ShardWrite write, long epoch, long seq);

  /**
   * Applies the next log entry atomically, durable as the durability setting says.
   *
   * @throws IllegalStateException if its seq does not follow the store's position
   */
  void apply(LogEntry entry);

  /**
   * Applies the next log entry atomically without syncing the log; the caller makes it
   * durable with {@link NodeStore#syncWal} before it tells anyone.
   */
  void applyWithoutSync(LogEntry entry);

  /**
   * A consistent copy of the shard as it is now, to read from another thread while this store
   * goes on (see {@link ShardSnapshot}). Call on the store's thread.
   */
  ShardSnapshot openSnapshot();

  /** Keys held per namespace, summed over all buckets. */
  Map<String, Long> namespaceKeyCounts();

  /**
   * Bytes on disk of the shard's table files. The write-ahead log is shared by every shard of
   * the node and is counted once for the node ({@link NodeStore#walBytes}), not here.
   */
  long diskBytes();

  /**
   * The end of the newest bucket dropped to honour the disk budget (epoch milliseconds), or 0
   * if none ever was: ids first seen before this may have been forgotten early.
   */
  long budgetHorizonMillis();

  /** Persists the budget horizon; it only moves forward. */
  void advanceBudgetHorizon(long millis);

  /** A RocksDB property summed over the store's buckets, for metrics. */
  long longProperty(String property);

  @Override
  void close();
}
