package dev.dedupe.server.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.testing.TestConfigs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What lets a node hold hundreds of shards (docs/capacity.md): new shards' metadata families
 * are created in one RocksDB call, buckets that many writers open at once are created in
 * batches with each writer getting its own family, and a memtable's bloom is sized by the
 * node's memtable budget shared by its shards.
 */
class ManyShardsTest {

  private static final int SHARDS = 64;
  private static final long T0 = 1_795_428_000_000L;

  @TempDir Path dir;
  private StorageResources resources;
  private NodeStore node;
  private final BucketGrid grid = new BucketGrid(Duration.ofHours(1));

  @BeforeEach
  void open() {
    resources = new StorageResources(TestConfigs.forDataDir(dir,
        Map.of("storage.shards", String.valueOf(SHARDS))).storage());
    node = NodeStore.open(DataDirectory.openOrCreate(dir, SHARDS), resources);
  }

  @AfterEach
  void close() {
    node.close();
    resources.close();
  }

  @Test
  void newShardsAreCreatedInOneCallAndReopenWithTheirIdentities() {
    long before = node.familyCreationBatches();
    List<Integer> all = IntStream.range(0, SHARDS).boxed().toList();
    List<String> ids = new ArrayList<>();
    List<RocksShardStore> stores = node.openShards(all, grid);
    assertEquals(before + 1, node.familyCreationBatches(), "one RocksDB call for 64 shards");
    for (int s = 0; s < SHARDS; s++) {
      assertEquals(s, stores.get(s).shardId(), "stores come back in the order asked");
      ids.add(stores.get(s).storeId());
      write(stores.get(s), T0, 3);
    }
    stores.forEach(RocksShardStore::close);

    node.close();
    node = NodeStore.open(DataDirectory.openOrCreate(dir, SHARDS), resources);
    long reopened = node.familyCreationBatches();
    stores = node.openShards(all, grid);
    assertEquals(reopened, node.familyCreationBatches(), "held shards create nothing");
    for (int s = 0; s < SHARDS; s++) {
      assertEquals(ids.get(s), stores.get(s).storeId());
      assertEquals(Map.of("ns", 3L), stores.get(s).namespaceKeyCounts());
    }
    stores.forEach(RocksShardStore::close);
  }

  @Test
  void aRefusedOpenOpensNoneOfTheShardsAsked() {
    RocksShardStore open = node.openShard(5, grid);
    assertThrows(StorageException.class, () -> node.openShards(List.of(1, 2, 5), grid));
    assertThrows(StorageException.class, () -> node.openShards(List.of(1, 1), grid));
    assertThrows(IllegalArgumentException.class, () -> node.openShards(List.of(3, SHARDS), grid));
    assertFalse(node.holdsShard(1), "shard 1 was neither created nor opened");
    assertFalse(node.holdsShard(3));
    // Nothing was left open: all three open now.
    List<RocksShardStore> stores = node.openShards(List.of(1, 2, 3), grid);
    assertTrue(node.holdsShard(1));
    stores.forEach(RocksShardStore::close);
    open.close();
  }

  @Test
  void writersOpeningBucketsAtOnceEachGetTheirOwnFamily() throws Exception {
    List<RocksShardStore> stores = node.openShards(IntStream.range(0, SHARDS).boxed().toList(), grid);
    long before = node.familyCreationBatches();
    // As at a bucket boundary: every shard's writer opens its next bucket at the same moment.
    CyclicBarrier together = new CyclicBarrier(16);
    ExecutorService writers = Executors.newFixedThreadPool(16);
    try {
      List<CompletableFuture<Void>> done = new ArrayList<>();
      for (int t = 0; t < 16; t++) {
        int first = t;
        done.add(CompletableFuture.runAsync(() -> {
          try {
            together.await();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          for (int s = first; s < SHARDS; s += 16) {
            write(stores.get(s), T0, 1 + s % 5);
            write(stores.get(s), T0 + Duration.ofHours(1).toMillis(), 1);
          }
        }, writers));
      }
      done.forEach(CompletableFuture::join);
    } finally {
      writers.shutdown();
    }
    long batches = node.familyCreationBatches() - before;
    assertTrue(batches >= 1 && batches <= 2L * SHARDS, "batches: " + batches);
    for (int s = 0; s < SHARDS; s++) {
      RocksShardStore store = stores.get(s);
      assertEquals(List.of(T0, T0 + Duration.ofHours(1).toMillis()), store.bucketStarts());
      // Each bucket is the shard's own: its counts are what this shard wrote, and nothing else.
      assertEquals(Map.of("ns", (long) (1 + s % 5) + 1), store.namespaceKeyCounts(), "shard " + s);
    }
    stores.forEach(RocksShardStore::close);
    // And they survive a restart under their own names.
    node.close();
    node = NodeStore.open(DataDirectory.openOrCreate(dir, SHARDS), resources);
    try (RocksShardStore store = node.openShard(17, grid)) {
      assertEquals(2, store.bucketStarts().size());
      assertEquals(Map.of("ns", 4L), store.namespaceKeyCounts());
    }
  }

  @Test
  void theMemtableBloomsOfAllShardsShareTheBudget() {
    long mib = 1 << 20;
    // One shard, or few: RocksDB's 5% of the memtable, as before.
    assertEquals(0.05, StorageResources.memtableBloomRatio(256 * mib, 1, 64 * mib), 1e-12);
    assertEquals(0.05, StorageResources.memtableBloomRatio(256 * mib, 4, 64 * mib), 1e-12);
    for (int shards : new int[] {16, 64, 256, 1024, 4096}) {
      double ratio = StorageResources.memtableBloomRatio(256 * mib, shards, 64 * mib);
      double bloomBytesPerBucket = ratio * 64 * mib;
      // One bucket per shard: every bloom together is 5% of the node's memtable budget.
      assertEquals(0.05 * 256 * mib, bloomBytesPerBucket * shards, 1.0, shards + " shards");
    }
  }

  private static void write(RocksShardStore store, long bucket, int count) {
    store.ensureBucket(bucket);
    ShardWrite write = new ShardWrite();
    for (int i = 0; i < count; i++) {
      write.put(ShardHash.digest("ns", store.shardId() + "-" + bucket + "-" + i), "ns", bucket,
          StoredRecord.committed(bucket + i, "", StoredRecord.NONE), true);
    }
    store.write(write);
  }
}
