package dev.dedupe.server.storage;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One shard's store: a view over the node's database ({@link NodeStore}) through the shard's
 * own column families, a metadata family ({@code sNNNN.meta}) and one family per time bucket
 * ({@code sNNNN.b-<start>}; keys are 16-byte id digests, values {@link RecordCodec} records,
 * plus per-namespace counters). Only the shard's writer thread uses it (see {@link ShardStore}).
 * Closing it hands its handles back to the node store; the database stays open for the other
 * shards.
 */
public final class RocksShardStore implements ShardStore {

  private final int shardId;
  private final NodeStore owner;
  private final StorageResources resources;
  private final BucketGrid grid;
  private final Logger log;
  private final RocksDB db;
  private final ShardColumnFamilies families;
  private final ColumnFamilyHandle metadata;
  /** Bucket start to its column family, ascending: the families' own map. */
  private final TreeMap<Long, ColumnFamilyHandle> buckets;
  private long budgetHorizonMillis;
  private String storeId;
  /** Read by any thread that asks a closed store for something; written by its owner. */
  private volatile boolean closed;

  private RocksShardStore(NodeStore owner, RocksDB db, StorageResources resources,
      BucketGrid grid, ShardColumnFamilies families) {
    this.shardId = families.shard;
    this.owner = owner;
    this.resources = resources;
    this.grid = grid;
    this.db = db;
    this.families = families;
    this.metadata = families.meta;
    this.buckets = families.buckets;
    this.log = LoggerFactory.getLogger(RocksShardStore.class.getName() + ".shard-" + shardId);
  }

  /**
   * A store over a shard's column families, whose metadata family exists; gives the shard its
   * id and identity if the family does not hold them yet. Called by {@link NodeStore#openShard}.
   */
  static RocksShardStore over(NodeStore owner, RocksDB db, StorageResources resources,
      BucketGrid grid, ShardColumnFamilies families) throws RocksDBException {
    RocksShardStore store = new RocksShardStore(owner, db, resources, grid, families);
    store.loadMetadata();
    return store;
  }

  /**
   * Reads the shard's metadata, writing what is missing in one batch: the shard id (a guard
   * against data filed under the wrong shard) and the store's identity, made the first time
   * the store is opened (a store made by a version before identities gets one then). The
   * identity never changes afterwards, so a store found with another identity, or created
   * empty, is not the one the cluster recorded for this shard.
   */
  private void loadMetadata() throws RocksDBException {
    byte[] storedShard = db.get(metadata, ShardMetaKeys.SHARD_ID);
    if (storedShard != null && ShardMetaKeys.shardId(storedShard) != shardId) {
      throw new StorageException("the metadata of shard " + shardId + " names shard "
          + ShardMetaKeys.shardId(storedShard));
    }
    byte[] storedId = db.get(metadata, ShardMetaKeys.STORE_ID);
    storeId = storedId == null ? UUID.randomUUID().toString() : ShardMetaKeys.storeId(storedId);
    if (storedShard == null || storedId == null) {
      try (WriteBatch batch = new WriteBatch()) {
        batch.put(metadata, ShardMetaKeys.STORE_ID, ShardMetaKeys.storeId(storeId));
        // The shard id last: from it on the shard counts as held (see NodeStore).
        batch.put(metadata, ShardMetaKeys.SHARD_ID, ShardMetaKeys.shardId(shardId));
        db.write(resources.writeOptions(), batch);
      }
      log.debug("shard {}: new store {}", shardId, storeId);
    }
    budgetHorizonMillis = ShardMetaKeys.millis(db.get(metadata, ShardMetaKeys.BUDGET_HORIZON));
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
          ShardColumnFamilyNames.bucket(shardId, start).getBytes(StandardCharsets.UTF_8),
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
      putCounters(batch, write.counterDeltas());
      db.write(resources.writeOptions(), batch);
    } catch (RocksDBException e) {
      throw new StorageException(
          "shard " + shardId + ": write of " + write.changeCount() + " keys failed", e);
    }
  }

  /**
   * Adds the new value of each counter the round changes, read-modify-write: one batched read
   * of the counters, then a put of each. The counters were merge operands before the shards
   * shared a database, but when any batch of a write group holds a merge, RocksDB turns off
   * parallel memtable inserts for the group and its leader inserts every batch on its own
   * thread; with one database per node a group holds other shards' rounds. A put is safe here
   * because this shard's writer is the only writer of its counters. The merge operator stays
   * configured, to read counters that older versions wrote as merges.
   */
  private void putCounters(WriteBatch batch, Map<ShardWrite.CounterKey, Long> deltas)
      throws RocksDBException {
    if (deltas.isEmpty()) {
      return;
    }
    List<ColumnFamilyHandle> cfs = new ArrayList<>(deltas.size());
    List<byte[]> keys = new ArrayList<>(deltas.size());
    List<Long> changes = new ArrayList<>(deltas.size());
    for (Map.Entry<ShardWrite.CounterKey, Long> e : deltas.entrySet()) {
      cfs.add(bucket(e.getKey().bucketStart()));
      keys.add(CounterKeys.keyFor(e.getKey().namespace()));
      changes.add(e.getValue());
    }
    List<byte[]> current = db.multiGetAsList(resources.readOptions(), cfs, keys);
    for (int i = 0; i < keys.size(); i++) {
      long before = current.get(i) == null ? 0 : CounterKeys.decode(current.get(i));
      batch.put(cfs.get(i), keys.get(i), CounterKeys.operand(before + changes.get(i)));
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

  /**
   * The shard's table files. The write-ahead log is shared by every shard of the node, so it
   * is not a shard's: {@link NodeStore#walBytes} counts it once for the node.
   */
  @Override
  public long diskBytes() {
    return longProperty("rocksdb.total-sst-files-size");
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
      db.put(metadata, resources.writeOptions(), ShardMetaKeys.BUDGET_HORIZON,
          ShardMetaKeys.millis(millis));
      budgetHorizonMillis = millis;
    } catch (RocksDBException e) {
      throw new StorageException("shard " + shardId + ": cannot record budget horizon", e);
    }
  }

  /** A RocksDB property summed over the shard's column families (metadata and buckets). */
  @Override
  public long longProperty(String property) {
    checkOpen();
    try {
      long sum = db.getLongProperty(metadata, property);
      for (ColumnFamilyHandle bucket : buckets.values()) {
        sum += db.getLongProperty(bucket, property);
      }
      return sum;
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

  /**
   * Syncs the shared WAL (the risk-power-loss mode relies on this when a shard closes) and
   * hands the shard's handles back to the node store, which keeps them for a later open.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      db.syncWal();
    } catch (RocksDBException e) {
      log.warn("shard {}: syncing the WAL on close reported {}", shardId, e.getMessage());
    }
    owner.release(families);
  }
}
