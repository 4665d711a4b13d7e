package dev.dedupe.server.storage;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.Durability;
import dev.dedupe.server.config.StorageConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.TickerType;
import org.rocksdb.WriteBatch;

/**
 * Measures group commit across shards, for docs/benchmarks.md: N threads, each the only writer
 * of its own shard (as a shard writer is), write small synced batches for a fixed time. Run
 * against the old layout (one RocksDB per shard: one WAL and one fsync per shard) and the new
 * one (one RocksDB per node: RocksDB's write thread groups concurrent writers into one WAL
 * write and one fsync), and the new one with {@code enable_pipelined_write}. Prints writes per
 * second and WAL syncs per write. Not a test: the command is in docs/benchmarks.md.
 *
 * <p>Arguments: threads (16), seconds per layout (10), ids per write (1).
 */
public final class GroupCommitMeasurement {

  private static final long BUCKET = 1_795_428_000_000L;

  /** One thread's write path: writes one batch of {@code ids} new records, synced. */
  @FunctionalInterface
  private interface Writer {
    void write(int thread, long sequence, int ids) throws Exception;
  }

  public static void main(String[] args) throws Exception {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 16;
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
    int ids = args.length > 2 ? Integer.parseInt(args[2]) : 1;
    System.out.printf("%d threads, each writing its own shard, %d id(s) per synced write, %d s"
        + " per layout%n", threads, ids, seconds);
    oneDatabasePerShard(threads, seconds, ids);
    oneDatabasePerNode(threads, seconds, ids, false);
    oneDatabasePerNode(threads, seconds, ids, true);
  }

  private static StorageConfig config(Path root, int shards) {
    return new StorageConfig(root, shards, Durability.FSYNC, Duration.ofHours(6), 0,
        256L << 20, 256L << 20, Duration.ofSeconds(10));
  }

  /** The old layout, rebuilt with plain RocksDB calls and the node's options. */
  private static void oneDatabasePerShard(int threads, int seconds, int ids) throws Exception {
    Path root = Files.createTempDirectory("group-commit-old");
    try (StorageResources resources = new StorageResources(config(root, threads))) {
      List<RocksDB> dbs = new ArrayList<>();
      List<ColumnFamilyHandle> handles = new ArrayList<>();
      try {
        for (int s = 0; s < threads; s++) {
          List<ColumnFamilyHandle> opened = new ArrayList<>();
          dbs.add(RocksDB.open(resources.dbOptions(), root.resolve("shard-" + s).toString(),
              List.of(
                  new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, resources.metadataOptions()),
                  new ColumnFamilyDescriptor(BucketGrid.columnFamilyName(BUCKET)
                      .getBytes(StandardCharsets.UTF_8), resources.bucketOptions())),
              opened));
          handles.addAll(opened);
        }
        run("one RocksDB per shard", resources, threads, seconds, ids, (t, seq, n) -> {
          ColumnFamilyHandle bucket = handles.get(2 * t + 1);
          try (WriteBatch batch = new WriteBatch()) {
            for (int i = 0; i < n; i++) {
              batch.put(bucket, digest(t, seq, i),
                  RecordCodec.encode(BUCKET, StoredRecord.committed(BUCKET + 1, "", StoredRecord.NONE)));
            }
            batch.merge(bucket, CounterKeys.keyFor("ns"), CounterKeys.operand(n));
            dbs.get(t).write(resources.writeOptions(), batch);
          }
        });
      } finally {
        handles.forEach(ColumnFamilyHandle::close);
        dbs.forEach(RocksDB::close);
      }
    }
  }

  /** The new layout, through the real node store and shard stores. */
  private static void oneDatabasePerNode(int threads, int seconds, int ids, boolean pipelined)
      throws Exception {
    Path root = Files.createTempDirectory("group-commit-new");
    StorageConfig config = config(root, threads);
    try (StorageResources resources = new StorageResources(config)) {
      resources.dbOptions().setEnablePipelinedWrite(pipelined);
      try (NodeStore node = NodeStore.open(DataDirectory.openOrCreate(root, threads), resources)) {
        List<RocksShardStore> stores = new ArrayList<>();
        BucketGrid grid = new BucketGrid(config.bucketWidth());
        try {
          for (int s = 0; s < threads; s++) {
            RocksShardStore store = node.openShard(s, grid);
            stores.add(store);
            store.ensureBucket(BUCKET);
          }
          run("one RocksDB per node" + (pipelined ? ", pipelined write" : ""), resources, threads,
              seconds, ids, (t, seq, n) -> {
                ShardWrite write = new ShardWrite();
                for (int i = 0; i < n; i++) {
                  write.put(digest(t, seq, i), "ns", BUCKET,
                      StoredRecord.committed(BUCKET + 1, "", StoredRecord.NONE), true);
                }
                stores.get(t).write(write);
              });
        } finally {
          stores.forEach(RocksShardStore::close);
        }
      }
    }
  }

  private static void run(String layout, StorageResources resources, int threads, int seconds,
      int ids, Writer writer) throws Exception {
    // A short warm-up, then the measured run; each thread writes until told to stop.
    measure(resources, threads, Math.max(1, seconds / 5), ids, writer, 0);
    long syncs = resources.tickerCount(TickerType.WAL_FILE_SYNCED);
    long withWal = resources.tickerCount(TickerType.WRITE_WITH_WAL);
    long bySelf = resources.tickerCount(TickerType.WRITE_DONE_BY_SELF);
    long byOther = resources.tickerCount(TickerType.WRITE_DONE_BY_OTHER);
    long t0 = System.nanoTime();
    long writes = measure(resources, threads, seconds, ids, writer, 1L << 40);
    double elapsed = (System.nanoTime() - t0) / 1e9;
    syncs = resources.tickerCount(TickerType.WAL_FILE_SYNCED) - syncs;
    withWal = resources.tickerCount(TickerType.WRITE_WITH_WAL) - withWal;
    bySelf = resources.tickerCount(TickerType.WRITE_DONE_BY_SELF) - bySelf;
    byOther = resources.tickerCount(TickerType.WRITE_DONE_BY_OTHER) - byOther;
    System.out.printf("%-38s %,9.0f writes/s (%,.0f ids/s), mean %.2f ms a write; %,d writes,"
            + " %,d WAL syncs = %.3f syncs a write; WRITE_WITH_WAL %,d; done by self %,d,"
            + " by another thread %,d%n",
        layout, writes / elapsed, writes * ids / elapsed, threads * elapsed * 1e3 / writes,
        writes, syncs, syncs / (double) writes, withWal, bySelf, byOther);
  }

  private static long measure(StorageResources resources, int threads, int seconds, int ids,
      Writer writer, long sequenceBase) throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    LongAdder writes = new LongAdder();
    CountDownLatch done = new CountDownLatch(threads);
    List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    for (int t = 0; t < threads; t++) {
      int thread = t;
      Thread.ofPlatform().name("writer-" + t).start(() -> {
        try {
          for (long seq = sequenceBase; !stop.get(); seq++) {
            writer.write(thread, seq, ids);
            writes.increment();
          }
        } catch (Throwable e) {
          failures.add(e);
        } finally {
          done.countDown();
        }
      });
    }
    Thread.sleep(Duration.ofSeconds(seconds));
    stop.set(true);
    done.await();
    if (!failures.isEmpty()) {
      throw new IllegalStateException("a writer failed", failures.get(0));
    }
    return writes.sum();
  }

  private static byte[] digest(int thread, long sequence, int i) {
    return ShardHash.digest("ns", thread + "-" + sequence + "-" + i);
  }
}
