package dev.dedupe.server.storage;

import com.sun.management.OperatingSystemMXBean;
import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.Durability;
import dev.dedupe.server.config.StorageConfig;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.TickerType;
import org.rocksdb.WriteBatch;

/**
 * Measures group commit across shards, for docs/benchmarks.md: N threads, each the only writer
 * of its own shard (as a shard writer is), write batches of new ids for a fixed time. It
 * compares the old layout (one RocksDB per shard: a WAL and an fsync per shard, rebuilt here
 * with plain RocksDB calls, counters as merges as that version wrote them), the new one (one
 * RocksDB per node, through the real {@link NodeStore} and {@link RocksShardStore}: RocksDB's
 * write thread groups concurrent writers into one WAL write and one fsync), and the new one
 * with {@code enable_pipelined_write} or without {@code enable_write_thread_adaptive_yield}, and
 * the new one fed the old layout's raw batches (to tell the layout's cost from the code path's).
 * All are open at once and measured in alternating
 * windows, so that load from other processes falls on each alike; besides writes per second it
 * prints ids per CPU second of this process, which such load disturbs less, and WAL syncs per
 * write. Not a test: the command is in docs/benchmarks.md.
 *
 * <p>Arguments: threads (16), seconds per window (2), windows per layout (5), ids per write
 * (1), durability (fsync; risk-power-loss shows what the layouts cost without the sync).
 */
public final class GroupCommitMeasurement {

  private static final long BUCKET = 1_795_428_000_000L;

  /** One thread's write path: writes one batch of {@code ids} new records. */
  @FunctionalInterface
  private interface Writer {
    void write(int thread, long sequence, int ids) throws Exception;
  }

  /** One layout under measurement, with its totals over the windows. */
  private static final class Layout {
    final String name;
    final StorageResources resources;
    final Writer writer;
    long writes;
    double seconds;
    double cpuSeconds;
    long syncs;
    long byOther;
    double slowest = Double.MAX_VALUE;
    double fastest;

    Layout(String name, StorageResources resources, Writer writer) {
      this.name = name;
      this.resources = resources;
      this.writer = writer;
    }
  }

  public static void main(String[] args) throws Exception {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 16;
    double window = args.length > 1 ? Double.parseDouble(args[1]) : 2;
    int windows = args.length > 2 ? Integer.parseInt(args[2]) : 5;
    int ids = args.length > 3 ? Integer.parseInt(args[3]) : 1;
    Durability durability = args.length > 4 ? Durability.parse(args[4]) : Durability.FSYNC;
    System.out.printf("%d threads, each writing its own shard, %d id(s) per write, durability %s;"
            + " %d windows of %.1f s per layout, alternating%n",
        threads, ids, durability.configName(), windows, window);
    List<AutoCloseable> open = new ArrayList<>();
    try {
      List<Layout> layouts = List.of(
          oneDatabasePerShard(threads, durability, open),
          oneDatabasePerNode(threads, durability, "", open),
          oneDatabasePerNode(threads, durability, "raw batches", open),
          oneDatabasePerNode(threads, durability, "pipelined write", open),
          oneDatabasePerNode(threads, durability, "no adaptive yield", open));
      AtomicLong sequence = new AtomicLong();
      for (Layout l : layouts) {
        measure(l, threads, 0.5, ids, sequence); // warm-up, not counted
        l.writes = 0;
        l.seconds = 0;
        l.cpuSeconds = 0;
        l.syncs = 0;
        l.byOther = 0;
        l.slowest = Double.MAX_VALUE;
        l.fastest = 0;
      }
      for (int w = 0; w < windows; w++) {
        for (int i = 0; i < layouts.size(); i++) {
          measure(layouts.get((w + i) % layouts.size()), threads, window, ids, sequence);
        }
      }
      for (Layout l : layouts) {
        System.out.printf("%-38s %,9.0f writes/s (windows %,.0f to %,.0f), %,.0f ids/s;"
                + " %,.0f ids per CPU second; %.3f WAL syncs a write; %.0f%% of writes done by"
                + " another thread%n",
            l.name, l.writes / l.seconds, l.slowest, l.fastest, l.writes * ids / l.seconds,
            l.writes * ids / l.cpuSeconds, l.syncs / (double) l.writes,
            100.0 * l.byOther / l.writes);
      }
    } finally {
      for (int i = open.size() - 1; i >= 0; i--) {
        open.get(i).close();
      }
    }
  }

  private static StorageConfig config(Path root, int shards, Durability durability) {
    return new StorageConfig(root, shards, durability, Duration.ofHours(6), 0,
        256L << 20, 256L << 20, Duration.ofSeconds(10));
  }

  /** A temporary directory, deleted last when the measurement closes what it opened. */
  private static Path temporaryDirectory(String prefix, List<AutoCloseable> open)
      throws java.io.IOException {
    Path root = Files.createTempDirectory(prefix);
    open.add(() -> {
      try (java.util.stream.Stream<Path> all = Files.walk(root)) {
        for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    });
    return root;
  }

  /** The old layout, rebuilt with plain RocksDB calls and the node's options. */
  private static Layout oneDatabasePerShard(
      int threads, Durability durability, List<AutoCloseable> open) throws Exception {
    Path root = temporaryDirectory("group-commit-old", open);
    StorageResources resources = new StorageResources(config(root, threads, durability));
    open.add(resources);
    List<RocksDB> dbs = new ArrayList<>();
    List<ColumnFamilyHandle> buckets = new ArrayList<>();
    for (int s = 0; s < threads; s++) {
      List<ColumnFamilyHandle> handles = new ArrayList<>();
      RocksDB db = RocksDB.open(resources.dbOptions(), root.resolve("shard-" + s).toString(),
          List.of(
              new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, resources.metadataOptions()),
              new ColumnFamilyDescriptor(BucketGrid.columnFamilyName(BUCKET)
                  .getBytes(StandardCharsets.UTF_8), resources.bucketOptions())),
          handles);
      dbs.add(db);
      buckets.add(handles.get(1));
      open.add(() -> {
        handles.forEach(ColumnFamilyHandle::close);
        db.close();
      });
    }
    return new Layout("one RocksDB per shard", resources, (t, seq, n) -> {
      try (WriteBatch batch = new WriteBatch()) {
        for (int i = 0; i < n; i++) {
          batch.put(buckets.get(t), digest(t, seq, i),
              RecordCodec.encode(BUCKET, StoredRecord.committed(BUCKET + 1, "", StoredRecord.NONE)));
        }
        batch.merge(buckets.get(t), CounterKeys.keyFor("ns"), CounterKeys.operand(n));
        dbs.get(t).write(resources.writeOptions(), batch);
      }
    });
  }

  /** The new layout, through the real node store and shard stores. */
  private static Layout oneDatabasePerNode(int threads, Durability durability, String variant,
      List<AutoCloseable> open) throws Exception {
    Path root = temporaryDirectory("group-commit-new", open);
    StorageConfig config = config(root, threads, durability);
    StorageResources resources = new StorageResources(config);
    open.add(resources);
    // Variants of the node's options, to see whether either helps group commit here.
    resources.dbOptions().setEnablePipelinedWrite(variant.equals("pipelined write"));
    resources.dbOptions().setEnableWriteThreadAdaptiveYield(!variant.equals("no adaptive yield"));
    NodeStore node = NodeStore.open(DataDirectory.openOrCreate(root, threads), resources);
    open.add(node);
    List<RocksShardStore> stores = new ArrayList<>();
    BucketGrid grid = new BucketGrid(config.bucketWidth());
    for (int s = 0; s < threads; s++) {
      RocksShardStore store = node.openShard(s, grid);
      stores.add(store);
      open.add(store);
      store.ensureBucket(BUCKET);
    }
    String name = "one RocksDB per node" + (variant.isEmpty() ? "" : ", " + variant);
    if (variant.equals("raw batches")) {
      // The old layout's very batches (puts and a counter merge) on the new layout: the
      // difference to the old layout is the layout's alone, not the store's code path.
      return new Layout(name, resources, (t, seq, n) -> {
        RocksShardStore store = stores.get(t);
        ColumnFamilyHandle bucket = store.rawBucketForMeasurement(BUCKET);
        try (WriteBatch batch = new WriteBatch()) {
          for (int i = 0; i < n; i++) {
            batch.put(bucket, digest(t, seq, i),
                RecordCodec.encode(BUCKET, StoredRecord.committed(BUCKET + 1, "", StoredRecord.NONE)));
          }
          batch.merge(bucket, CounterKeys.keyFor("ns"), CounterKeys.operand(n));
          store.rawDbForMeasurement().write(resources.writeOptions(), batch);
        }
      });
    }
    return new Layout(name, resources,
        (t, seq, n) -> {
          ShardWrite write = new ShardWrite();
          for (int i = 0; i < n; i++) {
            write.put(digest(t, seq, i), "ns", BUCKET,
                StoredRecord.committed(BUCKET + 1, "", StoredRecord.NONE), true);
          }
          stores.get(t).write(write);
        });
  }

  /** Runs every thread on one layout for {@code seconds} and adds the window to its totals. */
  private static void measure(Layout layout, int threads, double seconds, int ids,
      AtomicLong sequence) throws Exception {
    OperatingSystemMXBean os =
        (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long syncs = layout.resources.tickerCount(TickerType.WAL_FILE_SYNCED);
    long byOther = layout.resources.tickerCount(TickerType.WRITE_DONE_BY_OTHER);
    long cpu = os.getProcessCpuTime();
    long t0 = System.nanoTime();
    AtomicBoolean stop = new AtomicBoolean();
    LongAdder writes = new LongAdder();
    CountDownLatch done = new CountDownLatch(threads);
    List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    for (int t = 0; t < threads; t++) {
      int thread = t;
      Thread.ofPlatform().name("writer-" + t).start(() -> {
        try {
          while (!stop.get()) {
            layout.writer.write(thread, sequence.incrementAndGet(), ids);
            writes.increment();
          }
        } catch (Throwable e) {
          failures.add(e);
        } finally {
          done.countDown();
        }
      });
    }
    Thread.sleep(Duration.ofMillis((long) (seconds * 1000)));
    stop.set(true);
    done.await();
    if (!failures.isEmpty()) {
      throw new IllegalStateException(layout.name + ": a writer failed", failures.get(0));
    }
    double elapsed = (System.nanoTime() - t0) / 1e9;
    double rate = writes.sum() / elapsed;
    layout.writes += writes.sum();
    layout.seconds += elapsed;
    layout.cpuSeconds += (os.getProcessCpuTime() - cpu) / 1e9;
    layout.syncs += layout.resources.tickerCount(TickerType.WAL_FILE_SYNCED) - syncs;
    layout.byOther += layout.resources.tickerCount(TickerType.WRITE_DONE_BY_OTHER) - byOther;
    layout.slowest = Math.min(layout.slowest, rate);
    layout.fastest = Math.max(layout.fastest, rate);
  }

  private static byte[] digest(int thread, long sequence, int i) {
    return ShardHash.digest("ns", thread + "-" + sequence + "-" + i);
  }
}
