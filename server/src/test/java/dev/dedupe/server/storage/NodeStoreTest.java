package dev.dedupe.server.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.testing.TestConfigs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.FlushOptions;

/**
 * The node database and the shard stores it hands out: a closed shard opens again with its
 * data and identity, a deleted shard is gone for good, each shard's figures are its own, and
 * what a crash left of an import or a delete is dropped on open.
 */
class NodeStoreTest {

  private static final long T0 = 1_795_428_000_000L;
  private static final long HOUR = Duration.ofHours(1).toMillis();

  @TempDir Path dir;
  private StorageResources resources;
  private DataDirectory directory;
  private final BucketGrid grid = new BucketGrid(Duration.ofHours(1));
  private NodeStore node;

  @BeforeEach
  void open() {
    resources = new StorageResources(TestConfigs.forDataDir(dir, Map.of()).storage());
    directory = DataDirectory.openOrCreate(dir, 4);
    node = NodeStore.open(directory, resources);
  }

  @AfterEach
  void close() {
    node.close();
    resources.close();
  }

  @Test
  void aClosedShardOpensAgainWithItsDataAndIdentityAlsoAfterARestart() {
    String storeId;
    try (RocksShardStore store = node.openShard(1, grid)) {
      storeId = store.storeId();
      write(store, T0, "a", 10);
      store.advanceBudgetHorizon(T0);
    }
    try (RocksShardStore store = node.openShard(1, grid)) {
      assertEquals(storeId, store.storeId());
      assertEquals(Map.of("a", 10L), store.namespaceKeyCounts());
    }
    node.close();
    node = NodeStore.open(DataDirectory.openOrCreate(dir, 4), resources);
    try (RocksShardStore store = node.openShard(1, grid)) {
      assertEquals(storeId, store.storeId());
      assertEquals(T0, store.budgetHorizonMillis());
      assertEquals(List.of(T0), store.bucketStarts());
      assertEquals(Map.of("a", 10L), store.namespaceKeyCounts());
    }
  }

  @Test
  void aShardIsOpenInOneStoreAtATimeAndTheDatabaseClosesOnlyAfterIt() {
    RocksShardStore store = node.openShard(0, grid);
    assertThrows(StorageException.class, () -> node.openShard(0, grid));
    assertThrows(IllegalStateException.class, node::close);
    store.close();
  }

  @Test
  void aDeletedShardLosesEveryColumnFamilyAndComesBackEmptyWithANewIdentity() {
    String deletedId;
    try (RocksShardStore store = node.openShard(2, grid)) {
      deletedId = store.storeId();
      write(store, T0, "a", 10);
      write(store, T0 + HOUR, "a", 5);
    }
    try (RocksShardStore other = node.openShard(3, grid)) {
      write(other, T0, "a", 7);
      assertThrows(IllegalStateException.class, () -> node.deleteShard(3),
          "an open shard is not deleted");
    }

    assertTrue(node.deleteShard(2));
    assertFalse(node.holdsShard(2));
    assertFalse(node.deleteShard(2), "nothing left to delete");
    node.close();
    node = NodeStore.open(DataDirectory.openOrCreate(dir, 4), resources);
    assertFalse(node.holdsShard(2), "the delete is durable");
    try (RocksShardStore store = node.openShard(2, grid)) {
      assertNotEquals(deletedId, store.storeId());
      assertEquals(List.of(), store.bucketStarts());
      assertEquals(Map.of(), store.namespaceKeyCounts());
    }
    try (RocksShardStore other = node.openShard(3, grid)) {
      assertEquals(Map.of("a", 7L), other.namespaceKeyCounts(), "other shards keep their data");
    }
  }

  @Test
  void bucketsWithoutTheirShardsMetadataAreDroppedOnOpen() throws Exception {
    // What a crash leaves after the metadata family of a delete went, or before that of an
    // import was written: buckets of a shard that does not count.
    node.importBucket(1, T0, null);
    assertFalse(node.holdsShard(1));
    node.close();
    node = NodeStore.open(DataDirectory.openOrCreate(dir, 4), resources);
    assertFalse(node.holdsShard(1));
    try (RocksShardStore store = node.openShard(1, grid)) {
      assertEquals(List.of(), store.bucketStarts());
    }
  }

  @Test
  void eachShardsFiguresAreItsOwnAndTheWalIsTheNodes() throws Exception {
    try (RocksShardStore busy = node.openShard(0, grid);
        RocksShardStore quiet = node.openShard(1, grid)) {
      write(busy, T0, "a", 2_000);
      write(quiet, T0, "b", 3);
      assertTrue(node.walBytes() > 0, "the writes are in the shared WAL");
      try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
        busy.rawDbForMeasurement().flush(flush, busy.rawBucketForMeasurement(T0));
      }
      assertTrue(busy.diskBytes() > 0, "the flushed shard has table files");
      assertEquals(0, quiet.diskBytes(), "the other shard's data is still in its memtable");
      assertTrue(quiet.longProperty("rocksdb.cur-size-all-mem-tables") > 0);
      assertEquals(Map.of("a", 2_000L), busy.namespaceKeyCounts());
      assertEquals(Map.of("b", 3L), quiet.namespaceKeyCounts());
    }
  }

  private static void write(RocksShardStore store, long bucket, String ns, int count) {
    store.ensureBucket(bucket);
    ShardWrite write = new ShardWrite();
    for (int i = 0; i < count; i++) {
      write.put(ShardHash.digest(ns, store.shardId() + "-" + bucket + "-" + i), ns, bucket,
          StoredRecord.committed(bucket + i, "", StoredRecord.NONE), true);
    }
    store.write(write);
  }
}
