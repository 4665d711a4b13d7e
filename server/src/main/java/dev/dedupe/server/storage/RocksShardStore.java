package dev.dedupe.server.storage;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.LogFile;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A shard store in one RocksDB database: a column family per time bucket (keys are 16-byte id
 * digests, values {@link RecordCodec} records, plus per-namespace counters), and the default
 * column family for the shard's own metadata.
 */
public final class RocksShardStore implements ShardStore {

  private static final byte[] META_SHARD_ID = "meta/shard-id".getBytes(StandardCharsets.UTF_8);
  private static final byte[] META_STORE_ID = "meta/store-id".getBytes(StandardCharsets.UTF_8);
  private static final byte[] META_BUDGET_HORIZON =
      "meta/budget-horizon-millis".getBytes(StandardCharsets.UTF_8);

  private final int shardId;
  private final Path path;
  private final StorageResources resources;
  private final BucketGrid grid;
  private final Logger log;
  private final RocksDB db;
  private final ColumnFamilyHandle metadata;
  /** Bucket start to its column family, ascending. */
  private final TreeMap<Long, ColumnFamilyHandle> buckets = new TreeMap<>();
  private long budgetHorizonMillis;
  private String storeId;
  /** Read by any thread that asks a closed store for something; written by its owner. */
  private volatile boolean closed;

  private RocksShardStore(
      int shardId, Path path, StorageResources resources, BucketGrid grid, RocksDB db,
      ColumnFamilyHandle metadata) {
    this.shardId = shardId;
    this.path = path;
    this.resources = resources;
    this.grid = grid;
    this.db = db;
    this.metadata = metadata;
    this.log = LoggerFactory.getLogger(RocksShardStore.class.getName() + ".shard-" + shardId);
  }

  /** Opens the store of one shard at {@code path}, creating it if it does not exist. */
  public static RocksShardStore open(
      int shardId, Path path, StorageResources resources, BucketGrid grid) {
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try {
      Files.createDirectories(path);
      for (byte[] name : existingColumnFamilies(path)) {
        boolean isDefault = java.util.Arrays.equals(name, RocksDB.DEFAULT_COLUMN_FAMILY);
        descriptors.add(new ColumnFamilyDescriptor(
            name, isDefault ? resources.metadataOptions() : resources.bucketOptions()));
      }
      RocksDB db = RocksDB.open(resources.dbOptions(), path.toString(), descriptors, handles);
      RocksShardStore store =
          new RocksShardStore(shardId, path, resources, grid, db, handles.get(0));
      try {
        store.adopt(descriptors, handles);
        store.checkShardId();
        store.loadOrCreateStoreId();
      } catch (RuntimeException | RocksDBException e) {
        // Release the handles, the database and its lock: the node may retry the open.
        handles.forEach(ColumnFamilyHandle::close);
        db.close();
        throw e;
      }
      return store;
    } catch (RocksDBException | java.io.IOException e) {
      handles.forEach(ColumnFamilyHandle::close);
      throw new StorageException("cannot open shard " + shardId + " at " + path, e);
    }
  }

  private static List<byte[]> existingColumnFamilies(Path path) throws RocksDBException {
    if (!Files.exists(path.resolve("CURRENT"))) {
      return List.of(RocksDB.DEFAULT_COLUMN_FAMILY);
    }
    try (Options options = new Options()) {
      List<byte[]> names = RocksDB.listColumnFamilies(options, path.toString());
      // The default column family must come first so that handles.get(0) is the metadata.
      List<byte[]> ordered = new ArrayList<>();
      ordered.add(RocksDB.DEFAULT_COLUMN_FAMILY);
      for (byte[] name : names) {
        if (!java.util.Arrays.equals(name, RocksDB.DEFAULT_COLUMN_FAMILY)) {
          ordered.add(name);
        }
      }
      return ordered;
    }
  }

  private void adopt(List<ColumnFamilyDescriptor> descriptors, List<ColumnFamilyHandle> handles)
      throws RocksDBException {
    for (int i = 1; i < descriptors.size(); i++) {
      String name = new String(descriptors.get(i).getName(), StandardCharsets.UTF_8);
      OptionalLong start = BucketGrid.parseColumnFamilyName(name);
      if (start.isEmpty()) {
        throw new StorageException(
            "shard " + shardId + " at " + path + " has an unknown column family '" + name + "'");
      }
      buckets.put(start.getAsLong(), handles.get(i));
    }
    byte[] horizon = db.get(metadata, META_BUDGET_HORIZON);
    budgetHorizonMillis = horizon == null ? 0 : ByteBuffer.wrap(horizon).getLong();
  }

  private void checkShardId() throws RocksDBException {
    byte[] stored = db.get(metadata, META_SHARD_ID);
    if (stored == null) {
      db.put(metadata, resources.writeOptions(), META_SHARD_ID,
          ByteBuffer.allocate(4).putInt(shardId).array());
    } else if (ByteBuffer.wrap(stored).getInt() != shardId) {
      throw new StorageException(
          "store at " + path + " holds shard " + ByteBuffer.wrap(stored).getInt()
              + ", not shard " + shardId);
    }
  }

  /**
   * Gives the store its identity the first time it is opened (a store made by a version
   * before identities gets one on its first open under this one). The identity never changes
   * afterwards, so a store found with another identity, or created empty, is not the one the
   * cluster recorded for this shard.
   */
  private void loadOrCreateStoreId() throws RocksDBException {
    byte[] stored = db.get(metadata, META_STORE_ID);
    if (stored == null) {
      String made = java.util.UUID.randomUUID().toString();
      db.put(metadata, resources.writeOptions(), META_STORE_ID,
          made.getBytes(StandardCharsets.UTF_8));
      log.debug("shard {}: new store {} at {}", shardId, made, path);
      storeId = made;
    } else {
      storeId = new String(stored, StandardCharsets.UTF_8);
    }
  }

  @Override
  public int shardId() {
    return shardId;
  }

  @Override
  public String storeId() {
    return storeId;
  }

  @Override
  public List<Long> bucketStarts() {
    return List.copyOf(buckets.keySet());
  }

  @Override
  public void ensureBucket(long start) {
    checkOpen();
    if (buckets.containsKey(start)) {
      return;
    }
    try {
      ColumnFamilyHandle handle = db.createColumnFamily(new ColumnFamilyDescriptor(
          BucketGrid.columnFamilyName(start).getBytes(StandardCharsets.UTF_8),
          resources.bucketOptions()));
      buckets.put(start, handle);
      log.debug("shard {}: opened bucket {}", shardId, start);
    } catch (RocksDBException e) {
      throw new StorageException("shard " + shardId + ": cannot create bucket " + start, e);
    }
  }

  @Override
  public void dropBucket(long start) {
    checkOpen();
    ColumnFamilyHandle handle = buckets.remove(start);
    if (handle == null) {
      return;
    }
    try {
      db.dropColumnFamily(handle);
    } catch (RocksDBException e) {
      buckets.put(start, handle);
      throw new StorageException("shard " + shardId + ": cannot drop bucket " + start, e);
    }
    handle.close();
  }

  @Override
  public Holding[][] lookup(List<byte[]> digests, long sinceMillis) {
    checkOpen();
    Holding[][] result = new Holding[digests.size()][];
    List<Map.Entry<Long, ColumnFamilyHandle>> relevant = new ArrayList<>();
    for (Map.Entry<Long, ColumnFamilyHandle> e : buckets.descendingMap().entrySet()) {
      if (grid.endOf(e.getKey()) > sinceMillis) {
        relevant.add(e);
      }
    }
    if (relevant.isEmpty() || digests.isEmpty()) {
      java.util.Arrays.fill(result, NONE);
      return result;
    }
    int perKey = relevant.size();
    List<ColumnFamilyHandle> cfs = new ArrayList<>(digests.size() * perKey);
    List<byte[]> keys = new ArrayList<>(digests.size() * perKey);
    for (byte[] digest : digests) {
      for (Map.Entry<Long, ColumnFamilyHandle> e : relevant) {
        cfs.add(e.getValue());
        keys.add(digest);
      }
    }
    List<byte[]> values;
    try {
      values = db.multiGetAsList(resources.readOptions(), cfs, keys);
    } catch (RocksDBException e) {
      throw new StorageException(
          "shard " + shardId + ": lookup of " + digests.size() + " ids failed", e);
    }
    for (int i = 0; i < digests.size(); i++) {
      List<Holding> found = null;
      for (int j = 0; j < perKey; j++) {
        byte[] value = values.get(i * perKey + j);
        if (value != null) {
          long bucket = relevant.get(j).getKey();
          if (found == null) {
            found = new ArrayList<>(2);
          }
          found.add(new Holding(bucket, RecordCodec.decode(bucket, value)));
        }
      }
      result[i] = found == null ? NONE : found.toArray(NONE);
    }
    return result;
  }

  private static final Holding[] NONE = new Holding[0];

  @Override
  public void write(ShardWrite write) {
    checkOpen();
    if (write.isEmpty()) {
      return;
    }
    // One operation per key (the key's final state in this round), so the batch's order is
    // irrelevant; see ShardWrite.
    try (WriteBatch batch = new WriteBatch()) {
      for (ShardWrite.Change change : write.changes()) {
        if (change.after() != null) {
          batch.put(bucket(change.bucketStart()), change.digest(),
              RecordCodec.encode(change.bucketStart(), change.after()));
        } else if (change.heldBefore()) {
          batch.delete(bucket(change.bucketStart()), change.digest());
        }
      }
      for (Map.Entry<ShardWrite.CounterKey, Long> e : write.counterDeltas().entrySet()) {
        batch.merge(bucket(e.getKey().bucketStart()), CounterKeys.keyFor(e.getKey().namespace()),
            CounterKeys.operand(e.getValue()));
      }
      db.write(resources.writeOptions(), batch);
    } catch (RocksDBException e) {
      throw new StorageException(
          "shard " + shardId + ": write of " + write.changeCount() + " keys failed", e);
    }
  }

  private ColumnFamilyHandle bucket(long start) {
    ColumnFamilyHandle handle = buckets.get(start);
    if (handle == null) {
      throw new IllegalStateException("shard " + shardId + ": bucket " + start + " is not open");
    }
    return handle;
  }

  @Override
  public Map<String, Long> namespaceKeyCounts() {
    checkOpen();
    Map<String, Long> counts = new HashMap<>();
    for (ColumnFamilyHandle handle : buckets.values()) {
      try (RocksIterator it = db.newIterator(handle, resources.readOptions())) {
        for (it.seek(CounterKeys.PREFIX); it.isValid(); it.next()) {
          byte[] key = it.key();
          if (!CounterKeys.isCounterKey(key)) {
            break;
          }
          counts.merge(CounterKeys.namespaceOf(key), CounterKeys.decode(it.value()), Long::sum);
        }
      }
    }
    return Collections.unmodifiableMap(counts);
  }

  @Override
  public long diskBytes() {
    checkOpen();
    try {
      long wal = 0;
      for (LogFile f : db.getSortedWalFiles()) {
        wal += f.sizeFileBytes();
      }
      return db.getAggregatedLongProperty("rocksdb.total-sst-files-size") + wal;
    } catch (RocksDBException e) {
      throw new StorageException("shard " + shardId + ": cannot read its size", e);
    }
  }

  @Override
  public long budgetHorizonMillis() {
    return budgetHorizonMillis;
  }

  @Override
  public void advanceBudgetHorizon(long millis) {
    checkOpen();
    if (millis <= budgetHorizonMillis) {
      return;
    }
    try {
      db.put(metadata, resources.writeOptions(), META_BUDGET_HORIZON,
          ByteBuffer.allocate(8).putLong(millis).array());
      budgetHorizonMillis = millis;
    } catch (RocksDBException e) {
      throw new StorageException("shard " + shardId + ": cannot record budget horizon", e);
    }
  }

  @Override
  public long longProperty(String property) {
    checkOpen();
    try {
      return db.getAggregatedLongProperty(property);
    } catch (RocksDBException e) {
      throw new StorageException("shard " + shardId + ": cannot read " + property, e);
    }
  }

  /** The database, for the storage measurements in the test tree only. */
  RocksDB rawDbForMeasurement() {
    return db;
  }

  /** A bucket's column family, for the storage measurements in the test tree only. */
  ColumnFamilyHandle rawBucketForMeasurement(long start) {
    return bucket(start);
  }

  private void checkOpen() {
    if (closed) {
      throw new StorageException("shard " + shardId + " is closed");
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    buckets.values().forEach(ColumnFamilyHandle::close);
    buckets.clear();
    metadata.close();
    try {
      // Sync the WAL and release the lock; the risk-power-loss mode relies on this at shutdown.
      db.syncWal();
      db.closeE();
    } catch (RocksDBException e) {
      log.warn("shard {}: close reported {}", shardId, e.getMessage());
      db.close();
    }
  }
}
