package dev.dedupe.server.storage;

import dev.dedupe.contract.ShardHash;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.UInt64AddOperator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Builds a data directory in format 1 with plain RocksDB calls, as that version laid it out:
 * {@code dedupe.properties} with {@code format=1}, and under {@code shards/shard-NNNN/} one
 * database per shard whose default column family holds {@code meta/shard-id} (int),
 * {@code meta/store-id} (UTF-8) and {@code meta/budget-horizon-millis} (long), and whose bucket
 * families ({@link BucketGrid#columnFamilyName}) hold {@link RecordCodec} records and
 * {@link CounterKeys} counters. It also remembers what it wrote, for the checks.
 */
final class LegacyShardDatabases {

  /** What one shard's database holds. */
  record Shard(int shard, String storeId, long horizon,
      Map<Long, Map<String, List<StoredRecord>>> recordsByBucketAndNamespace) {}

  private LegacyShardDatabases() {}

  static void writeFormatFile(Path root, int shards, String nodeId) throws IOException {
    Files.createDirectories(root);
    Properties props = new Properties();
    props.setProperty("node-id", nodeId);
    props.setProperty("format", "1");
    props.setProperty("hash", ShardHash.NAME);
    props.setProperty("shards", Integer.toString(shards));
    try (OutputStream out = Files.newOutputStream(root.resolve(DataDirectory.FORMAT_FILE))) {
      props.store(out, "format 1, built by a test");
    }
  }

  /** The ids a shard holds, made up: ns, bucket and index say which. */
  static String id(int shard, long bucket, int i) {
    return "id-" + shard + "-" + bucket + "-" + i;
  }

  /**
   * Writes one shard's database with {@code perBucket} records per namespace in each bucket,
   * of every kind. With {@code leaveInWal}, the database closes without flushing, so its
   * records are only in the WAL, which the migration must replay.
   */
  static Shard write(Path root, int shard, List<Long> buckets, int perBucket, long horizon,
      boolean leaveInWal) throws Exception {
    Path path = root.resolve("shards").resolve(String.format("shard-%04d", shard));
    Files.createDirectories(path);
    String storeId = "store-" + shard + "-" + java.util.UUID.randomUUID();
    Map<Long, Map<String, List<StoredRecord>>> written = new LinkedHashMap<>();
    try (UInt64AddOperator add = new UInt64AddOperator();
        ColumnFamilyOptions bucketOptions = new ColumnFamilyOptions().setMergeOperator(add);
        ColumnFamilyOptions defaultOptions = new ColumnFamilyOptions();
        DBOptions options = new DBOptions().setCreateIfMissing(true)
            .setCreateMissingColumnFamilies(true).setAvoidFlushDuringShutdown(leaveInWal);
        WriteOptions sync = new WriteOptions().setSync(true)) {
      List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
      descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, defaultOptions));
      for (long b : buckets) {
        descriptors.add(new ColumnFamilyDescriptor(
            BucketGrid.columnFamilyName(b).getBytes(StandardCharsets.UTF_8), bucketOptions));
      }
      List<ColumnFamilyHandle> handles = new ArrayList<>();
      try (RocksDB db = RocksDB.open(options, path.toString(), descriptors, handles)) {
        try (WriteBatch meta = new WriteBatch()) {
          meta.put(handles.get(0), ShardMetaKeys.SHARD_ID, ShardMetaKeys.shardId(shard));
          meta.put(handles.get(0), ShardMetaKeys.STORE_ID, ShardMetaKeys.storeId(storeId));
          meta.put(handles.get(0), ShardMetaKeys.BUDGET_HORIZON, ShardMetaKeys.millis(horizon));
          db.write(sync, meta);
        }
        for (int b = 0; b < buckets.size(); b++) {
          long bucket = buckets.get(b);
          ColumnFamilyHandle cf = handles.get(b + 1);
          Map<String, List<StoredRecord>> byNamespace = new LinkedHashMap<>();
          for (String ns : List.of("orders", "payments")) {
            List<StoredRecord> records = new ArrayList<>();
            try (WriteBatch batch = new WriteBatch()) {
              for (int i = 0; i < perBucket; i++) {
                StoredRecord r = record(bucket, i);
                batch.put(cf, ShardHash.digest(ns, id(shard, bucket, i)), RecordCodec.encode(bucket, r));
                records.add(r);
              }
              // Counters as the v1 writer made them: merges of per-round deltas.
              batch.merge(cf, CounterKeys.keyFor(ns), CounterKeys.operand(perBucket - 1));
              batch.merge(cf, CounterKeys.keyFor(ns), CounterKeys.operand(1));
              db.write(sync, batch);
            }
            byNamespace.put(ns, records);
          }
          written.put(bucket, byNamespace);
        }
      } finally {
        handles.forEach(ColumnFamilyHandle::close);
      }
    }
    return new Shard(shard, storeId, horizon, written);
  }

  private static StoredRecord record(long bucket, int i) {
    long seen = bucket + 1_000 + i;
    return switch (i % 3) {
      case 0 -> StoredRecord.committed(seen, "", StoredRecord.NONE);
      case 1 -> StoredRecord.committed(seen, "token-" + i, ("fp" + i).getBytes(StandardCharsets.UTF_8))
          .commit(("result-" + i).getBytes(StandardCharsets.UTF_8));
      default -> StoredRecord.leased(seen, "lease-" + i, seen + 60_000, StoredRecord.NONE);
    };
  }
}
