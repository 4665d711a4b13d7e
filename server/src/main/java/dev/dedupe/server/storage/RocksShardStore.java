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
  private LogPosition position = LogPosition.EMPTY;
  private List<EpochStart> epochHistory = List.of();
  /** Snapshots open on this store; a dropped bucket's handle waits for them (see dropBucket). */
  private final java.util.concurrent.atomic.AtomicInteger openSnapshots =
      new java.util.concurrent.atomic.AtomicInteger();
  private final List<ColumnFamilyHandle> deferredCloses = new ArrayList<>();
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
    position = ShardMetaKeys.position(db.get(metadata, ShardMetaKeys.LOG_POSITION));
    epochHistory = List.copyOf(ShardMetaKeys.epochHistory(db.get(metadata, ShardMetaKeys.EPOCH_HISTORY)));
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
      // Through the node store: writers that open their buckets at the same moment (start-up,
      // a bucket boundary) share one RocksDB call (see ColumnFamilyCreator).
      ColumnFamilyHandle handle = owner.createFamily(new ColumnFamilyDescriptor(
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
    // A snapshot being read on another thread may still iterate the family: RocksDB keeps a
    // dropped family's data while a handle to it is open, so the handle closes after it.
    synchronized (deferredCloses) {
      if (openSnapshots.get() > 0) {
        deferredCloses.add(handle);
        return;
      }
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
    apply(prepare(write, Math.max(1, position.epoch()), position.seq() + 1));
  }

  @Override
  public LogPosition position() {
    return position;
  }

  @Override
  public List<EpochStart> epochHistory() {
    return epochHistory;
  }

  /**
   * The round's changes as the shard's next log entry: a put or delete per key (its final
   * state; see ShardWrite), the buckets it writes to that do not exist yet, and the new total of
   * each counter it changes, read now (read-modify-write: this shard's writer is the only writer
   * of its counters, and it applies each entry before it prepares the next).
   */
  @Override
  public LogEntry prepare(ShardWrite write, long epoch, long seq) {
    checkOpen();
    List<LogEntry.Op> ops = new ArrayList<>(write.changeCount() + 4);
    java.util.Set<Long> missing = new java.util.TreeSet<>();
    for (ShardWrite.Change change : write.changes()) {
      if (!buckets.containsKey(change.bucketStart())) {
        missing.add(change.bucketStart());
      }
    }
    missing.forEach(b -> ops.add(new LogEntry.EnsureBucket(b)));
    for (ShardWrite.Change change : write.changes()) {
      if (change.after() != null) {
        ops.add(new LogEntry.Put(change.bucketStart(), change.digest(),
            RecordCodec.encode(change.bucketStart(), change.after())));
      } else if (change.heldBefore()) {
        ops.add(new LogEntry.Delete(change.bucketStart(), change.digest()));
      }
    }
    try {
      counterTotals(write.counterDeltas(), ops);
    } catch (RocksDBException e) {
      throw new StorageException("shard " + shardId + ": cannot read counters", e);
    }
    return new LogEntry(epoch, seq, ops);
  }

  @Override
  public void apply(LogEntry entry) {
    apply(entry, resources.writeOptions());
  }

  @Override
  public void applyWithoutSync(LogEntry entry) {
    apply(entry, resources.unsyncedWriteOptions());
  }

  /**
   * Applies an entry: its buckets are created and dropped first (each idempotent, so an entry
   * cut short by a crash is applied again whole), then one atomic batch holds its puts, deletes
   * and metadata together with the shard's new log position (and the epoch, if it is new to
   * the history): the position says exactly which entries the data holds.
   */
  private void apply(LogEntry entry, org.rocksdb.WriteOptions options) {
    checkOpen();
    if (entry.seq() != position.seq() + 1 || entry.epoch() < position.epoch()) {
      throw new IllegalStateException("shard " + shardId + ": entry " + entry.position()
          + " does not follow the store's position " + position);
    }
    for (LogEntry.Op op : entry.ops()) {
      switch (op) {
        case LogEntry.EnsureBucket e -> ensureBucket(e.bucketStart());
        case LogEntry.Put p -> ensureBucket(p.bucketStart());
        case LogEntry.Delete d -> ensureBucket(d.bucketStart());
        case LogEntry.DropBucket d -> dropBucket(d.bucketStart());
        case LogEntry.PutMeta m -> { }
      }
    }
    List<EpochStart> history = epochHistory;
    if (history.isEmpty() || history.get(history.size() - 1).epoch() != entry.epoch()) {
      List<EpochStart> next = new ArrayList<>(history);
      next.add(new EpochStart(entry.epoch(), entry.seq()));
      history = List.copyOf(next);
    }
    long horizon = budgetHorizonMillis;
    try (WriteBatch batch = new WriteBatch()) {
      for (LogEntry.Op op : entry.ops()) {
        switch (op) {
          case LogEntry.Put p -> batch.put(bucket(p.bucketStart()), p.key(), p.value());
          case LogEntry.Delete d -> batch.delete(bucket(d.bucketStart()), d.key());
          case LogEntry.PutMeta m -> {
            batch.put(metadata, m.key(), m.value());
            if (java.util.Arrays.equals(m.key(), ShardMetaKeys.BUDGET_HORIZON)) {
              horizon = Math.max(horizon, ShardMetaKeys.millis(m.value()));
            }
          }
          case LogEntry.EnsureBucket e -> { }
          case LogEntry.DropBucket d -> { }
        }
      }
      batch.put(metadata, ShardMetaKeys.LOG_POSITION, ShardMetaKeys.position(entry.position()));
      if (history != epochHistory) {
        batch.put(metadata, ShardMetaKeys.EPOCH_HISTORY, ShardMetaKeys.epochHistory(history));
      }
      db.write(options, batch);
    } catch (RocksDBException e) {
      throw new StorageException("shard " + shardId + ": entry " + entry.position() + " of "
          + entry.ops().size() + " ops failed", e);
    }
    position = entry.position();
    epochHistory = history;
    budgetHorizonMillis = horizon;
  }

  /**
   * Adds the new total of each counter the round changes, read-modify-write: one batched read
   * of the counters, then a put of each total. Totals rather than deltas: applying an entry
   * must not depend on what the replica held before. Puts rather than merge operands: when
   * any batch of a RocksDB write group holds a merge, the group's memtable inserts run on one
   * thread, and with one database per node a group holds other shards' rounds. The merge
   * operator stays configured, to read counters that older versions wrote as merges.
   */
  private void counterTotals(Map<ShardWrite.CounterKey, Long> deltas, List<LogEntry.Op> ops)
      throws RocksDBException {
    if (deltas.isEmpty()) {
      return;
    }
    List<ColumnFamilyHandle> cfs = new ArrayList<>(deltas.size());
    List<byte[]> keys = new ArrayList<>(deltas.size());
    List<Map.Entry<ShardWrite.CounterKey, Long>> existing = new ArrayList<>(deltas.size());
    for (Map.Entry<ShardWrite.CounterKey, Long> e : deltas.entrySet()) {
      ColumnFamilyHandle cf = buckets.get(e.getKey().bucketStart());
      byte[] key = CounterKeys.keyFor(e.getKey().namespace());
      if (cf == null) {
        // A bucket this entry creates holds no counter yet.
        ops.add(new LogEntry.Put(e.getKey().bucketStart(), key, CounterKeys.operand(e.getValue())));
        continue;
      }
      cfs.add(cf);
      keys.add(key);
      existing.add(e);
    }
    if (keys.isEmpty()) {
      return;
    }
    List<byte[]> current = db.multiGetAsList(resources.readOptions(), cfs, keys);
    for (int i = 0; i < keys.size(); i++) {
      long before = current.get(i) == null ? 0 : CounterKeys.decode(current.get(i));
      ops.add(new LogEntry.Put(existing.get(i).getKey().bucketStart(), keys.get(i),
          CounterKeys.operand(before + existing.get(i).getValue())));
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

  @Override
  public ShardSnapshot openSnapshot() {
    checkOpen();
    List<Map.Entry<Long, ColumnFamilyHandle>> held = new ArrayList<>(buckets.entrySet());
    SnapshotChunk.Header header = new SnapshotChunk.Header(position, epochHistory,
        List.copyOf(buckets.keySet()), budgetHorizonMillis);
    long estimate = estimateSnapshotBytes(held);
    openSnapshots.incrementAndGet();
    return new ShardSnapshot(db, held, header, estimate, this::snapshotClosed);
  }

  /** See {@link ShardSnapshot#estimatedBytes}; read before the snapshot, so a round or two off. */
  private long estimateSnapshotBytes(List<Map.Entry<Long, ColumnFamilyHandle>> held) {
    long bytes = 0;
    try {
      for (Map.Entry<Long, ColumnFamilyHandle> b : held) {
        for (org.rocksdb.TableProperties p : db.getPropertiesOfAllTables(b.getValue()).values()) {
          bytes += p.getRawKeySize() + p.getRawValueSize() + 8 * p.getNumEntries();
        }
        bytes += db.getLongProperty(b.getValue(), "rocksdb.cur-size-all-mem-tables");
      }
      return bytes;
    } catch (RocksDBException e) {
      log.warn("shard {}: cannot estimate a snapshot's size: {}", shardId, e.getMessage());
      return -1;
    }
  }

  /** A snapshot closed: once none is open, the handles of buckets dropped meanwhile close. */
  private void snapshotClosed() {
    synchronized (deferredCloses) {
      if (openSnapshots.decrementAndGet() == 0) {
        deferredCloses.forEach(ColumnFamilyHandle::close);
        deferredCloses.clear();
      }
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
