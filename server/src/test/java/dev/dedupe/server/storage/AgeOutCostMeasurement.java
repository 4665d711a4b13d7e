package dev.dedupe.server.storage;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.Durability;
import dev.dedupe.server.config.StorageConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.FlushOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.TickerType;
import org.rocksdb.WriteBatch;

/**
 * Measures what age-out costs, for docs/design.md: dropping a bucket's column family whole
 * versus deleting its keys one by one (and compacting the tombstones away), and what a lookup
 * of an absent id costs as the number of buckets grows. Not a test; docs/design.md gives the
 * command that runs it.
 */
public final class AgeOutCostMeasurement {

  private static final long HOUR = Duration.ofHours(1).toMillis();

  public static void main(String[] args) throws Exception {
    int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    Path root = Files.createTempDirectory("age-out-cost");
    StorageConfig config = new StorageConfig(root, 1, Durability.RISK_POWER_LOSS,
        Duration.ofHours(1), 0, 256L << 20, 256L << 20, Duration.ofSeconds(10));
    try (StorageResources resources = new StorageResources(config)) {
      BucketGrid grid = new BucketGrid(Duration.ofHours(1));
      System.out.printf("keys per bucket: %,d%n", keys);
      dropVersusDelete(resources, grid, root, keys);
      lookupCostByBucketCount(resources, grid, root, Math.min(keys, 200_000));
    }
  }

  private static void dropVersusDelete(
      StorageResources resources, BucketGrid grid, Path root, int keys) throws Exception {
    try (NodeStore node = openNode(root.resolve("drop"), resources);
        RocksShardStore store = node.openShard(0, grid)) {
      fill(store, 0, keys, 0);
      long before = store.diskBytes();
      long t = System.nanoTime();
      store.dropBucket(0);
      long dropNanos = System.nanoTime() - t;
      System.out.printf("drop bucket: %.2f ms; %,d bytes on disk before (%.1f bytes/key), %,d after%n",
          dropNanos / 1e6, before, before / (double) keys, store.diskBytes());
    }
    try (NodeStore node = openNode(root.resolve("delete"), resources);
        RocksShardStore store = node.openShard(0, grid)) {
      fill(store, 0, keys, 0);
      RocksDB db = store.rawDbForMeasurement();
      ColumnFamilyHandle cf = store.rawBucketForMeasurement(0);
      long t = System.nanoTime();
      for (int from = 0; from < keys; from += 10_000) {
        try (WriteBatch batch = new WriteBatch()) {
          for (int i = from; i < Math.min(keys, from + 10_000); i++) {
            batch.delete(cf, digest(i));
          }
          db.write(resources.writeOptions(), batch);
        }
      }
      long deleteNanos = System.nanoTime() - t;
      long written = resources.tickerCount(TickerType.COMPACT_WRITE_BYTES);
      long read = resources.tickerCount(TickerType.COMPACT_READ_BYTES);
      t = System.nanoTime();
      try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
        db.flush(flush, cf);
      }
      db.compactRange(cf);
      long compactNanos = System.nanoTime() - t;
      System.out.printf("per-key delete: %.0f ms to write %,d tombstones, then %.0f ms of flush and"
              + " compaction reading %,d and writing %,d bytes%n",
          deleteNanos / 1e6, keys, compactNanos / 1e6,
          resources.tickerCount(TickerType.COMPACT_READ_BYTES) - read,
          resources.tickerCount(TickerType.COMPACT_WRITE_BYTES) - written);
    }
  }

  private static void lookupCostByBucketCount(
      StorageResources resources, BucketGrid grid, Path root, int keysPerBucket) throws Exception {
    try (NodeStore node = openNode(root.resolve("lookup"), resources);
        RocksShardStore store = node.openShard(0, grid)) {
      int maxBuckets = 25;
      for (int b = 0; b < maxBuckets; b++) {
        fill(store, b * HOUR, keysPerBucket, b * keysPerBucket);
      }
      List<byte[]> absent = new ArrayList<>();
      List<byte[]> present = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        absent.add(digest(-1 - i));
        present.add(digest((maxBuckets - 1) * keysPerBucket + i));
      }
      for (int buckets : new int[] {1, 2, 4, 8, 13, 25}) {
        long since = (maxBuckets - buckets) * HOUR;
        System.out.printf("lookup across %2d buckets (%,d keys each): absent id %6.0f ns,"
                + " id in the newest bucket %6.0f ns%n", buckets, keysPerBucket,
            nanosPerId(store, absent, since), nanosPerId(store, present, since));
      }
    }
  }

  private static NodeStore openNode(Path dir, StorageResources resources) {
    return NodeStore.open(DataDirectory.openOrCreate(dir, 1), resources);
  }

  private static double nanosPerId(RocksShardStore store, List<byte[]> ids, long since) {
    for (int w = 0; w < 50; w++) {
      store.lookup(ids, since);
    }
    int rounds = 200;
    long t = System.nanoTime();
    for (int r = 0; r < rounds; r++) {
      store.lookup(ids, since);
    }
    return (System.nanoTime() - t) / (double) (rounds * ids.size());
  }

  private static void fill(RocksShardStore store, long bucket, int keys, int offset) throws Exception {
    store.ensureBucket(bucket);
    for (int from = 0; from < keys; from += 10_000) {
      ShardWrite write = new ShardWrite();
      for (int i = from; i < Math.min(keys, from + 10_000); i++) {
        write.put(digest(offset + i), "ns", bucket, StoredRecord.committed(bucket + 1, "", new byte[0]), true);
      }
      store.write(write);
    }
    try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
      store.rawDbForMeasurement().flush(flush, store.rawBucketForMeasurement(bucket));
    }
  }

  private static byte[] digest(int i) {
    return ShardHash.digest("ns", "id-" + i);
  }
}
