package dev.dedupe.server.storage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.rocksdb.Checkpoint;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ExportImportFilesMetaData;
import org.rocksdb.FlushOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a format-1 data directory (one RocksDB database per shard under
 * {@code shards/shard-NNNN/}) into the node database of format 2, losing nothing: no id
 * acknowledged NEW may be forgotten because the layout changed.
 *
 * <p>Each shard goes over with RocksDB's own export and import, the way a shard will travel
 * between nodes: its old database is opened (replaying its WAL) and flushed, each bucket is
 * exported ({@link Checkpoint#exportColumnFamily}: hard links to its table files) and imported
 * under the shard's name ({@link RocksDB#createColumnFamilyWithImport}, moving the links), and
 * last the metadata is written, synced. No table file is copied.
 *
 * <p>Crash safety, step by step: a shard whose metadata is not yet written does not count, and
 * the node store drops its imported buckets when it opens (see {@link NodeStore}), so the next
 * open redoes that shard from its untouched old database. Shards already in are skipped. The
 * format file is bumped to 2 only when every shard is in, and the old databases are deleted
 * only after the bump; if a crash comes between the two, the next open (format 2) deletes them.
 */
final class LayoutMigration {

  private static final Logger log = LoggerFactory.getLogger(LayoutMigration.class);

  private final DataDirectory directory;
  private final NodeStore target;
  private final StorageResources resources;

  LayoutMigration(DataDirectory directory, NodeStore target, StorageResources resources) {
    this.directory = directory;
    this.target = target;
    this.resources = resources;
  }

  /** Migrates every shard not yet in the node database, then bumps the format, then cleans up. */
  void run() {
    List<Integer> legacy = legacyShards();
    log.info("data directory {} is in format {}: moving {} shard databases into the node"
        + " database", directory.root(), directory.formatVersion(), legacy.size());
    for (int shard : legacy) {
      if (target.holdsShard(shard)) {
        log.info("shard {}: already in the node database", shard);
        continue;
      }
      migrateShard(shard);
    }
    directory.markCurrentFormat();
    removeMigratedLeftovers();
    log.info("data directory {} is in format {}", directory.root(), directory.formatVersion());
  }

  /** The shards that have a format-1 database. */
  List<Integer> legacyShards() {
    List<Integer> shards = new ArrayList<>();
    for (int s = 0; s < directory.shards(); s++) {
      if (Files.exists(directory.legacyShardPath(s).resolve("CURRENT"))) {
        shards.add(s);
      }
    }
    return shards;
  }

  /**
   * Deletes the format-1 databases and the export area. Only ever after the format file says
   * 2, which is written only once every shard is in the node database.
   */
  void removeMigratedLeftovers() {
    if (directory.formatVersion() < DataDirectory.FORMAT_VERSION) {
      throw new IllegalStateException("not removing the format-" + directory.formatVersion()
          + " shard databases of " + directory.root() + " before the migration is complete");
    }
    deleteRecursively(directory.legacyShardsRoot());
    deleteRecursively(directory.migrationPath());
  }

  /** Exports one shard's buckets from its old database and imports them, metadata last. */
  void migrateShard(int shard) {
    Path source = directory.legacyShardPath(shard);
    Path exports = directory.migrationPath().resolve(String.format("shard-%04d", shard));
    deleteRecursively(exports);
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try {
      Files.createDirectories(exports);
      for (byte[] name : columnFamilies(source)) {
        boolean isDefault = Arrays.equals(name, RocksDB.DEFAULT_COLUMN_FAMILY);
        descriptors.add(new ColumnFamilyDescriptor(
            name, isDefault ? resources.metadataOptions() : resources.bucketOptions()));
      }
      try (RocksDB old = RocksDB.open(resources.dbOptions(), source.toString(), descriptors, handles);
          Checkpoint checkpoint = Checkpoint.create(old);
          FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
        ColumnFamilyHandle meta = handles.get(0);
        checkShardId(old.get(meta, ShardMetaKeys.SHARD_ID), shard, source);
        byte[] storeId = old.get(meta, ShardMetaKeys.STORE_ID);
        long horizon = ShardMetaKeys.millis(old.get(meta, ShardMetaKeys.BUDGET_HORIZON));
        long files = 0;
        for (int i = 1; i < handles.size(); i++) {
          String name = new String(descriptors.get(i).getName(), StandardCharsets.UTF_8);
          long start = BucketGrid.parseColumnFamilyName(name).orElseThrow();
          ColumnFamilyHandle bucket = handles.get(i);
          // What the old WAL held is now in the memtable: flush it into table files to export.
          old.flush(flush, bucket);
          long bucketFiles = old.getColumnFamilyMetaData(bucket).fileCount();
          if (bucketFiles == 0) {
            target.importBucket(shard, start, null);
            continue;
          }
          try (ExportImportFilesMetaData exported =
              checkpoint.exportColumnFamily(bucket, exports.resolve(name).toString())) {
            target.importBucket(shard, start, exported);
          }
          files += bucketFiles;
        }
        target.importMeta(
            shard, storeId == null ? null : ShardMetaKeys.storeId(storeId), horizon);
        log.info("shard {}: moved {} buckets ({} table files) into the node database",
            shard, handles.size() - 1, files);
      } finally {
        handles.forEach(ColumnFamilyHandle::close);
      }
    } catch (RocksDBException | IOException e) {
      throw new StorageException(
          "shard " + shard + ": cannot move " + source + " into the node database", e);
    }
    deleteRecursively(exports);
  }

  /** The old database's column families, default first; each other one must be a bucket. */
  private static List<byte[]> columnFamilies(Path source) throws RocksDBException {
    List<byte[]> names = NodeStore.existingColumnFamilies(source);
    for (byte[] name : names.subList(1, names.size())) {
      String text = new String(name, StandardCharsets.UTF_8);
      if (BucketGrid.parseColumnFamilyName(text).isEmpty()) {
        throw new StorageException(
            "shard database " + source + " has an unknown column family '" + text + "'");
      }
    }
    return names;
  }

  private static void checkShardId(byte[] stored, int shard, Path source) {
    if (stored != null && ShardMetaKeys.shardId(stored) != shard) {
      throw new StorageException("shard database " + source + " holds shard "
          + ShardMetaKeys.shardId(stored) + ", not shard " + shard);
    }
  }

  private static void deleteRecursively(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + root, e);
    }
  }
}
