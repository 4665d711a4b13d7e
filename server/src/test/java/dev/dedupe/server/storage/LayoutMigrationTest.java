package dev.dedupe.server.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.ServerConfig;
import dev.dedupe.server.testing.TestConfigs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.Checkpoint;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ExportImportFilesMetaData;
import org.rocksdb.FlushOptions;
import org.rocksdb.RocksDB;

/**
 * A data directory in format 1 (one RocksDB per shard) is moved into the node database when
 * it is opened, with every record, counter, store identity and budget horizon: no id
 * acknowledged NEW is lost to the layout change. A migration cut short completes on the next
 * open.
 */
class LayoutMigrationTest {

  private static final int SHARDS = 4;
  private static final long HOUR = Duration.ofHours(1).toMillis();
  private static final long T0 = 1_795_428_000_000L;
  private static final List<Long> BUCKETS = List.of(T0, T0 + HOUR, T0 + 2 * HOUR);
  private static final int PER_BUCKET = 300;

  @TempDir Path dir;
  private StorageResources resources;
  private final BucketGrid grid = new BucketGrid(Duration.ofHours(1));
  private final List<LegacyShardDatabases.Shard> legacy = new ArrayList<>();

  @BeforeEach
  void buildFormatOne() throws Exception {
    ServerConfig config = TestConfigs.forDataDir(dir, Map.of());
    resources = new StorageResources(config.storage());
    LegacyShardDatabases.writeFormatFile(dir, SHARDS, "node-legacy1");
    // Shard 2 never opened on this node: it has no database. Shard 1's records are in its WAL.
    for (int s : List.of(0, 1, 3)) {
      legacy.add(LegacyShardDatabases.write(
          dir, s, BUCKETS, PER_BUCKET, s == 3 ? T0 - HOUR : 0, s == 1));
    }
  }

  @AfterEach
  void close() {
    resources.close();
  }

  @Test
  void aFormatOneDirectoryIsMigratedWithEveryRecordCounterIdentityAndHorizon() {
    DataDirectory directory = DataDirectory.openOrCreate(dir, SHARDS);
    assertEquals(1, directory.formatVersion());
    try (NodeStore node = NodeStore.open(directory, resources)) {
      assertEquals(2, directory.formatVersion());
      assertEverythingCameAcross(node);
    }
    assertMigrationFinished();
    // And again after a restart, from the node database alone.
    DataDirectory reopened = DataDirectory.openOrCreate(dir, SHARDS);
    assertEquals(2, reopened.formatVersion());
    assertEquals("node-legacy1", reopened.nodeId());
    try (NodeStore node = NodeStore.open(reopened, resources)) {
      assertEverythingCameAcross(node);
    }
  }

  @Test
  void aMigrationCutShortCompletesOnTheNextOpen() throws Exception {
    DataDirectory directory = DataDirectory.openOrCreate(dir, SHARDS);
    try (NodeStore node = NodeStore.openDatabase(directory, resources)) {
      // Shard 0 went over whole; of shard 1 one bucket was imported, then the process died.
      new LayoutMigration(directory, node, resources).migrateShard(0);
      importOneBucketOf(1, node);
    }
    assertEquals(1, DataDirectory.openOrCreate(dir, SHARDS).formatVersion(),
        "the format is bumped only when every shard is in");
    assertTrue(Files.exists(dir.resolve("shards/shard-0001/CURRENT")),
        "the old databases stay until the bump");

    DataDirectory again = DataDirectory.openOrCreate(dir, SHARDS);
    try (NodeStore node = NodeStore.open(again, resources)) {
      assertEquals(2, again.formatVersion());
      assertEverythingCameAcross(node);
    }
    assertMigrationFinished();
  }

  @Test
  void oldDatabasesLeftByACrashAfterTheBumpAreDeletedOnTheNextOpen() throws Exception {
    try (NodeStore node = NodeStore.open(DataDirectory.openOrCreate(dir, SHARDS), resources)) {
      assertTrue(node.holdsShard(0));
    }
    // What a crash between the bump and the clean-up would leave.
    Files.createDirectories(dir.resolve("shards/shard-0000"));
    Files.writeString(dir.resolve("shards/shard-0000/CURRENT"), "MANIFEST-000001\n");
    try (NodeStore node = NodeStore.open(DataDirectory.openOrCreate(dir, SHARDS), resources)) {
      assertEverythingCameAcross(node);
    }
    assertMigrationFinished();
  }

  /** Exports the first bucket of a format-1 shard and imports it, as the migration would. */
  private void importOneBucketOf(int shard, NodeStore node) throws Exception {
    Path source = dir.resolve(String.format("shards/shard-%04d", shard));
    List<ColumnFamilyDescriptor> descriptors = List.of(
        new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, resources.metadataOptions()),
        new ColumnFamilyDescriptor(BucketGrid.columnFamilyName(BUCKETS.get(0))
            .getBytes(StandardCharsets.UTF_8), resources.bucketOptions()),
        new ColumnFamilyDescriptor(BucketGrid.columnFamilyName(BUCKETS.get(1))
            .getBytes(StandardCharsets.UTF_8), resources.bucketOptions()),
        new ColumnFamilyDescriptor(BucketGrid.columnFamilyName(BUCKETS.get(2))
            .getBytes(StandardCharsets.UTF_8), resources.bucketOptions()));
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try (RocksDB old = RocksDB.open(resources.dbOptions(), source.toString(), descriptors, handles);
        Checkpoint checkpoint = Checkpoint.create(old);
        FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
      old.flush(flush, handles.get(1));
      try (ExportImportFilesMetaData exported = checkpoint.exportColumnFamily(
          handles.get(1), dir.resolve("export-by-test").toString())) {
        node.importBucket(shard, BUCKETS.get(0), exported);
      }
    } finally {
      handles.forEach(ColumnFamilyHandle::close);
    }
  }

  private void assertEverythingCameAcross(NodeStore node) {
    assertFalse(node.holdsShard(2), "a shard with no database is not made up");
    for (LegacyShardDatabases.Shard expected : legacy) {
      try (RocksShardStore store = node.openShard(expected.shard(), grid)) {
        int s = expected.shard();
        assertEquals(expected.storeId(), store.storeId(), "store id of shard " + s);
        assertEquals(expected.horizon(), store.budgetHorizonMillis(), "horizon of shard " + s);
        assertEquals(BUCKETS, store.bucketStarts(), "buckets of shard " + s);
        assertEquals(Map.of("orders", (long) PER_BUCKET * BUCKETS.size(),
            "payments", (long) PER_BUCKET * BUCKETS.size()), store.namespaceKeyCounts(),
            "counters of shard " + s);
        expected.recordsByBucketAndNamespace().forEach((bucket, byNamespace) ->
            byNamespace.forEach((ns, records) -> {
              List<byte[]> digests = new ArrayList<>();
              for (int i = 0; i < records.size(); i++) {
                digests.add(ShardHash.digest(ns, LegacyShardDatabases.id(s, bucket, i)));
              }
              Holding[][] held = store.lookup(digests, 0);
              for (int i = 0; i < records.size(); i++) {
                assertEquals(1, held[i].length, "shard " + s + " " + ns + " record " + i);
                assertEquals(bucket, held[i][0].bucketStart());
                assertArrayEquals(RecordCodec.encode(bucket, records.get(i)),
                    RecordCodec.encode(bucket, held[i][0].record()),
                    "shard " + s + " bucket " + bucket + " " + ns + " record " + i);
              }
            }));
      }
    }
  }

  private void assertMigrationFinished() {
    assertFalse(Files.exists(dir.resolve("shards")), "old shard databases are deleted");
    assertFalse(Files.exists(dir.resolve("migration")), "the export area is deleted");
  }
}
