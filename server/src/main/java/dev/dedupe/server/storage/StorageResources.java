package dev.dedupe.server.storage;

import dev.dedupe.server.config.Durability;
import dev.dedupe.server.config.StorageConfig;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.Cache;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.InfoLogLevel;
import org.rocksdb.LRUCache;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.Statistics;
import org.rocksdb.UInt64AddOperator;
import org.rocksdb.WriteBufferManager;
import org.rocksdb.WriteOptions;

/**
 * The native RocksDB objects of a node's storage: one block cache, one memtable budget, one
 * statistics object, and the options the node database and its column families open with.
 * Memory is bounded per node rather than per shard, so the shard count can grow without
 * growing RAM.
 *
 * <p>Owns every object it creates and closes them in reverse order; close it only after every
 * store that uses it is closed.
 */
public final class StorageResources implements AutoCloseable {

  static {
    RocksDB.loadLibrary();
  }

  private final Cache blockCache;
  private final WriteBufferManager writeBufferManager;
  private final Statistics statistics;
  private final BloomFilter bloomFilter;
  private final UInt64AddOperator counterMergeOperator;
  private final DBOptions dbOptions;
  private final ColumnFamilyOptions bucketOptions;
  private final ColumnFamilyOptions metadataOptions;
  private final WriteOptions writeOptions;
  /** For a follower's entries, made durable together by one sync of the log afterwards. */
  private final WriteOptions unsyncedWriteOptions = new WriteOptions().setSync(false);
  private final ReadOptions readOptions;

  public StorageResources(StorageConfig config) {
    blockCache = new LRUCache(config.blockCacheBytes());
    // Memtables are charged to the block cache so that the two together stay within
    // block-cache + write-buffer bytes however many shards are open.
    writeBufferManager = new WriteBufferManager(config.writeBufferBytes(), blockCache);
    statistics = new Statistics();
    // 10 bits per key: a 1% false-positive rate, so a NEW id (the common case) costs a filter
    // probe per bucket and almost never a disk read.
    bloomFilter = new BloomFilter(10);
    counterMergeOperator = new UInt64AddOperator();

    dbOptions =
        new DBOptions()
            .setCreateIfMissing(true)
            .setCreateMissingColumnFamilies(true)
            .setWriteBufferManager(writeBufferManager)
            .setStatistics(statistics)
            .setMaxBackgroundJobs(2)
            .setInfoLogLevel(InfoLogLevel.WARN_LEVEL)
            .setKeepLogFileNum(3)
            // Every shard's column families share the node's one WAL, and a WAL file is freed
            // only when every family with data in it has flushed. A family written rarely (a
            // shard's metadata, an old bucket touched by a Forget) would pin old WAL files
            // forever; past this size RocksDB flushes the families holding the oldest file.
            .setMaxTotalWalSize(256L << 20)
            // Reuse old WAL files instead of growing new ones: fdatasync of a write that does not
            // grow the file need not also write the inode, which more than halved the median
            // sync time measured on the development disk (docs/benchmarks.md, issue 10's section,
            // "WAL files are recycled"). Safe with the default point-in-time recovery since
            // facebook/rocksdb#12403.
            .setRecycleLogFileNum(4);

    BlockBasedTableConfig table =
        new BlockBasedTableConfig()
            .setBlockCache(blockCache)
            .setFilterPolicy(bloomFilter)
            .setWholeKeyFiltering(true)
            .setFormatVersion(5);
    long writeBufferSize = Math.min(64L << 20, config.writeBufferBytes() / 2);
    bucketOptions =
        new ColumnFamilyOptions()
            .setTableFormatConfig(table)
            .setMergeOperator(counterMergeOperator)
            .setWriteBufferSize(writeBufferSize)
            // Whole-key bloom in the memtable: most ids are new and miss every bucket.
            .setMemtablePrefixBloomSizeRatio(
                memtableBloomRatio(config.writeBufferBytes(), config.shards(), writeBufferSize))
            .setMemtableWholeKeyFiltering(true)
            .setLevelCompactionDynamicLevelBytes(true)
            .setCompressionType(CompressionType.LZ4_COMPRESSION)
            .setBottommostCompressionType(CompressionType.ZSTD_COMPRESSION);
    metadataOptions = new ColumnFamilyOptions();

    writeOptions = new WriteOptions().setSync(config.durability() == Durability.FSYNC);
    readOptions = new ReadOptions();
  }

  /** The memtable bloom's share of a memtable's size when nothing limits it (RocksDB's advice). */
  static final double MEMTABLE_BLOOM_RATIO = 0.05;

  /**
   * The memtable bloom's size as a share of {@code writeBufferSize}, RocksDB's option
   * {@code memtable_prefix_bloom_size_ratio}: 5% of the memtable a bucket can expect to fill,
   * which is the node's memtable budget shared by its shards, not the most a memtable may grow.
   *
   * <p>Why: RocksDB allocates (and zeroes) a memtable's bloom when it creates the memtable, as
   * ratio times {@code write_buffer_size}, however empty the memtable stays; and every bucket
   * of every shard has a memtable. At 5% of 64 MiB that was 3.2 MiB of resident memory per
   * bucket, measured as about 4 MiB per idle shard (docs/capacity.md): 1,024 shards with a
   * day's five buckets each would have held 16 GiB of empty blooms. Sized by the budget, all
   * the blooms of one bucket per shard take 5% of {@code storage.write-buffer.bytes}, whatever
   * the shard count. A memtable that fills beyond its share (few shards written, many held)
   * keeps working with more bloom false positives, each costing one memtable search.
   */
  static double memtableBloomRatio(long writeBufferBytes, int shards, long writeBufferSize) {
    double expected = Math.min(writeBufferSize, (double) writeBufferBytes / shards);
    return MEMTABLE_BLOOM_RATIO * expected / writeBufferSize;
  }

  DBOptions dbOptions() {
    return dbOptions;
  }

  ColumnFamilyOptions bucketOptions() {
    return bucketOptions;
  }

  ColumnFamilyOptions metadataOptions() {
    return metadataOptions;
  }

  WriteOptions writeOptions() {
    return writeOptions;
  }

  WriteOptions unsyncedWriteOptions() {
    return unsyncedWriteOptions;
  }

  ReadOptions readOptions() {
    return readOptions;
  }

  /** A RocksDB ticker summed over every shard of the node (stalls, compaction bytes, ...). */
  public long tickerCount(org.rocksdb.TickerType ticker) {
    return statistics.getTickerCount(ticker);
  }

  /** Bytes the block cache holds now. */
  public long blockCacheUsage() {
    return blockCache.getUsage();
  }

  @Override
  public void close() {
    readOptions.close();
    writeOptions.close();
    unsyncedWriteOptions.close();
    metadataOptions.close();
    bucketOptions.close();
    dbOptions.close();
    counterMergeOperator.close();
    bloomFilter.close();
    statistics.close();
    writeBufferManager.close();
    blockCache.close();
  }
}
