package dev.dedupe.server.storage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantLock;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.ExportImportFilesMetaData;
import org.rocksdb.ImportColumnFamilyOptions;
import org.rocksdb.LogFile;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's one RocksDB database, under {@code DATA_DIR/db/}, holding every shard of the node
 * as column families ({@link ShardColumnFamilyNames}). It hands out one {@link RocksShardStore}
 * per open shard. All shards share one write-ahead log, so RocksDB's write thread groups the
 * synced writes that shard writers make at the same time into one log write and one fsync:
 * group commit across shards, where one database per shard paid an fsync per shard.
 *
 * <p>A shard's data counts only once its metadata family holds its shard id. That write is the
 * last step of creating, importing or migrating a shard, and dropping the metadata family is
 * the first step of deleting one; so buckets found without it on open are what a crash left of
 * an import or a delete, and are dropped.
 *
 * <p>Threads: shard writers open, close and delete shards, and the maintenance thread reads
 * the WAL's size; a lock orders them. Close it only after every shard store it handed out.
 */
public final class NodeStore implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(NodeStore.class);

  private final DataDirectory directory;
  private final StorageResources resources;
  private final RocksDB db;
  private final ColumnFamilyHandle defaultFamily;
  /** Creates families in batches; see ColumnFamilyCreator for why. */
  private final ColumnFamilyCreator creator;
  private final ReentrantLock lock = new ReentrantLock();
  /** Shards held here and not open now, with their handles; guarded by lock. */
  private final Map<Integer, ShardColumnFamilies> closedShards = new HashMap<>();
  /** Shards lent to a shard store now; guarded by lock. */
  private final Set<Integer> openShards = new TreeSet<>();
  /** Shards being replaced by a snapshot now (see ShardInstall); guarded by lock. */
  private final Set<Integer> installing = new TreeSet<>();
  /**
   * Installs that a restart interrupted, kept with their progress to be resumed (see
   * ShardInstall); their shards are also in installing and closedShards. Guarded by lock.
   */
  private final Map<Integer, InstallStage> staged = new HashMap<>();
  /** Guarded by lock. */
  private boolean closed;

  private NodeStore(
      DataDirectory directory, StorageResources resources, RocksDB db, ColumnFamilyHandle dflt) {
    this.directory = directory;
    this.resources = resources;
    this.db = db;
    this.defaultFamily = dflt;
    this.creator = new ColumnFamilyCreator(db);
  }

  /**
   * Opens the node database of {@code directory}, creating it if needed. A data directory in
   * format 1 (one database per shard) is migrated first; see {@link LayoutMigration}. Call
   * with the directory locked.
   */
  public static NodeStore open(DataDirectory directory, StorageResources resources) {
    NodeStore store = openDatabase(directory, resources);
    try {
      LayoutMigration migration = new LayoutMigration(directory, store, resources);
      if (directory.formatVersion() < 2) {
        migration.run();
      } else {
        migration.removeMigratedLeftovers();
      }
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
    return store;
  }

  /** Opens the database as it is on disk, without migrating a format-1 directory. */
  static NodeStore openDatabase(DataDirectory directory, StorageResources resources) {
    Path path = directory.nodeDatabasePath();
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try {
      Files.createDirectories(path);
      for (byte[] name : existingColumnFamilies(path)) {
        descriptors.add(new ColumnFamilyDescriptor(name, optionsFor(name, path, resources)));
      }
      RocksDB db = RocksDB.open(resources.dbOptions(), path.toString(), descriptors, handles);
      NodeStore store = new NodeStore(directory, resources, db, handles.get(0));
      try {
        store.adopt(descriptors, handles);
      } catch (RuntimeException | RocksDBException e) {
        // Release the handles, the database and its lock: the node may retry the open.
        handles.forEach(ColumnFamilyHandle::close);
        db.close();
        throw e;
      }
      return store;
    } catch (RocksDBException | IOException e) {
      handles.forEach(ColumnFamilyHandle::close);
      throw new StorageException("cannot open the node database at " + path, e);
    }
  }

  /**
   * The column families of the database at {@code path}, the default one first (so that the
   * first handle RocksDB opens is its handle); just the default one if there is no database.
   */
  static List<byte[]> existingColumnFamilies(Path path) throws RocksDBException {
    List<byte[]> ordered = new ArrayList<>();
    // The default column family comes first, so that handles.get(0) is its handle.
    ordered.add(RocksDB.DEFAULT_COLUMN_FAMILY);
    if (!Files.exists(path.resolve("CURRENT"))) {
      return ordered;
    }
    try (Options options = new Options()) {
      for (byte[] name : RocksDB.listColumnFamilies(options, path.toString())) {
        if (!Arrays.equals(name, RocksDB.DEFAULT_COLUMN_FAMILY)) {
          ordered.add(name);
        }
      }
    }
    return ordered;
  }

  private static ColumnFamilyOptions optionsFor(byte[] rawName, Path path, StorageResources r) {
    if (Arrays.equals(rawName, RocksDB.DEFAULT_COLUMN_FAMILY)) {
      return r.metadataOptions();
    }
    String name = new String(rawName, StandardCharsets.UTF_8);
    Optional<ShardColumnFamilyNames.Parsed> parsed = ShardColumnFamilyNames.parse(name);
    if (parsed.isEmpty()) {
      throw new StorageException(
          "the node database at " + path + " has an unknown column family '" + name + "'");
    }
    return parsed.get().isMeta() ? r.metadataOptions() : r.bucketOptions();
  }

  private void adopt(List<ColumnFamilyDescriptor> descriptors, List<ColumnFamilyHandle> handles)
      throws RocksDBException {
    Map<Integer, ShardColumnFamilies> found = new HashMap<>();
    for (int i = 1; i < descriptors.size(); i++) {
      String name = new String(descriptors.get(i).getName(), StandardCharsets.UTF_8);
      ShardColumnFamilyNames.Parsed parsed = ShardColumnFamilyNames.parse(name).orElseThrow();
      if (parsed.shard() < 0 || parsed.shard() >= directory.shards()) {
        throw new StorageException("the node database holds column family '" + name
            + "' of shard " + parsed.shard() + ", but the data directory has "
            + directory.shards() + " shards");
      }
      ShardColumnFamilies cfs =
          found.computeIfAbsent(parsed.shard(), ShardColumnFamilies::new);
      if (parsed.isMeta()) {
        cfs.meta = handles.get(i);
      } else {
        cfs.buckets.put(parsed.bucketStart().getAsLong(), handles.get(i));
      }
    }
    for (ShardColumnFamilies cfs : found.values()) {
      byte[] shardId = cfs.meta == null ? null : db.get(cfs.meta, ShardMetaKeys.SHARD_ID);
      byte[] stage = cfs.meta == null || shardId != null ? null
          : db.get(cfs.meta, ShardMetaKeys.INSTALL_STAGE);
      if (stage != null) {
        InstallStage kept = InstallStage.decode(stage);
        closedShards.put(cfs.shard, cfs);
        installing.add(cfs.shard);
        staged.put(cfs.shard, kept);
        log.info("shard {}: keeping an unfinished snapshot install ({}, chunk {} next, {} keys)"
            + " to resume it", cfs.shard, kept.installId(), kept.nextIndex(), kept.keys());
      } else if (shardId == null) {
        log.warn("shard {}: dropping {} column families left by an import or delete that did"
            + " not finish (no shard id in its metadata)", cfs.shard, cfs.all().size());
        dropAll(cfs);
      } else if (ShardMetaKeys.shardId(shardId) != cfs.shard) {
        throw new StorageException("column family " + ShardColumnFamilyNames.meta(cfs.shard)
            + " holds shard " + ShardMetaKeys.shardId(shardId) + ", not shard " + cfs.shard);
      } else {
        closedShards.put(cfs.shard, cfs);
      }
    }
  }

  /** The number of shards of the data directory (not all of them need be held here). */
  public int shardCount() {
    return directory.shards();
  }

  /**
   * Opens one shard's store, creating the shard (a new, empty store with a new identity) if
   * this node holds no data for it. A shard is open in at most one store at a time.
   *
   * @throws StorageException if the node database is closed, the shard is open already, or
   *     RocksDB fails
   */
  public RocksShardStore openShard(int shard, BucketGrid grid) {
    return openShards(List.of(shard), grid).get(0);
  }

  /**
   * Opens the given shards' stores, in the order given, creating those this node holds no
   * data for. The metadata families of the new ones are created in one RocksDB call: one by
   * one, each would rewrite the OPTIONS file of every family (see ColumnFamilyCreator). If one
   * fails, the stores this call opened are closed again and nothing is returned.
   *
   * @throws StorageException if the node database is closed, a shard is open already, or
   *     RocksDB fails
   */
  public List<RocksShardStore> openShards(List<Integer> shards, BucketGrid grid) {
    lock.lock();
    try {
      checkOpen();
      Set<Integer> asked = new TreeSet<>();
      for (int shard : shards) {
        if (shard < 0 || shard >= directory.shards()) {
          throw new IllegalArgumentException(
              "shard " + shard + " is outside 0.." + (directory.shards() - 1));
        }
        if (openShards.contains(shard) || !asked.add(shard)) {
          throw new StorageException("shard " + shard + " is open already");
        }
        if (installing.contains(shard)) {
          throw new StorageException("shard " + shard + " is being installed from a snapshot");
        }
      }
      createMissingMeta(shards);
      List<RocksShardStore> opened = new ArrayList<>(shards.size());
      try {
        for (int shard : shards) {
          opened.add(openCreated(shard, grid));
        }
      } catch (StorageException e) {
        // Each store hands its handles back (release) as it closes.
        opened.forEach(RocksShardStore::close);
        throw e;
      }
      return opened;
    } finally {
      lock.unlock();
    }
  }

  /** Gives each shard without a metadata family one, all in one batch. Under lock. */
  private void createMissingMeta(List<Integer> shards) {
    List<Integer> missing = new ArrayList<>();
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    for (int shard : shards) {
      ShardColumnFamilies cfs = closedShards.get(shard);
      if (cfs == null || cfs.meta == null) {
        missing.add(shard);
        descriptors.add(new ColumnFamilyDescriptor(
            bytes(ShardColumnFamilyNames.meta(shard)), resources.metadataOptions()));
      }
    }
    List<ColumnFamilyHandle> handles;
    try {
      handles = creator.createAll(descriptors);
    } catch (RocksDBException e) {
      throw new StorageException("cannot create the metadata of shards " + missing, e);
    }
    for (int i = 0; i < missing.size(); i++) {
      closedShards.computeIfAbsent(missing.get(i), ShardColumnFamilies::new).meta = handles.get(i);
    }
  }

  /** Opens a shard whose metadata family exists. Under lock. */
  private RocksShardStore openCreated(int shard, BucketGrid grid) {
    ShardColumnFamilies cfs = closedShards.remove(shard);
    try {
      RocksShardStore store = RocksShardStore.over(this, db, resources, grid, cfs);
      openShards.add(shard);
      return store;
    } catch (RocksDBException | RuntimeException e) {
      closedShards.put(shard, cfs);
      if (e instanceof StorageException se) {
        throw se;
      }
      throw new StorageException("cannot open shard " + shard + " in the node database", e);
    }
  }

  /**
   * Creates a column family, in one RocksDB call with any that other threads create at the
   * same time (a shard's writer opening its next bucket while the others open theirs).
   */
  ColumnFamilyHandle createFamily(ColumnFamilyDescriptor descriptor) throws RocksDBException {
    return creator.create(descriptor);
  }

  /** RocksDB calls that created column families so far; tests use it. */
  long familyCreationBatches() {
    return creator.batches();
  }

  /** Takes back a shard's handles when its store closes. */
  void release(ShardColumnFamilies cfs) {
    lock.lock();
    try {
      openShards.remove(cfs.shard);
      closedShards.put(cfs.shard, cfs);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Whether this node holds the shard (open or not); a shard being imported does not count
   * until its metadata is written.
   */
  public boolean holdsShard(int shard) {
    lock.lock();
    try {
      ShardColumnFamilies idle = closedShards.get(shard);
      return openShards.contains(shard) || (idle != null && idle.meta != null);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Deletes a closed shard's data: drops all its column families. The metadata family goes
   * first, so a crash midway leaves buckets that the next open drops, never a shard that looks
   * whole with part of its data missing. Returns whether there was anything to delete.
   *
   * @throws IllegalStateException if the shard is open
   */
  public boolean deleteShard(int shard) {
    lock.lock();
    try {
      checkOpen();
      if (openShards.contains(shard)) {
        throw new IllegalStateException("shard " + shard + " is open; close it before deleting it");
      }
      ShardColumnFamilies cfs = closedShards.remove(shard);
      staged.remove(shard);
      installing.remove(shard);
      if (cfs == null) {
        return false;
      }
      int families = cfs.all().size();
      try {
        dropAll(cfs);
      } catch (RocksDBException e) {
        closedShards.put(shard, cfs);
        throw new StorageException("shard " + shard + ": cannot delete its data", e);
      }
      log.info("shard {}: deleted its data ({} column families)", shard, families);
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Drops a shard's column families, metadata first, and closes their handles. */
  private void dropAll(ShardColumnFamilies cfs) throws RocksDBException {
    if (cfs.meta != null) {
      db.dropColumnFamily(cfs.meta);
      cfs.meta.close();
      cfs.meta = null;
    }
    if (!cfs.buckets.isEmpty()) {
      db.dropColumnFamilies(new ArrayList<>(cfs.buckets.values()));
    }
    cfs.closeAll();
  }

  /**
   * Imports one exported bucket of a shard (the SST files are hard-linked in, then the export's
   * links removed). The shard does not count until {@link #importMeta} has run for it.
   *
   * @param exported the export, or null for a bucket that held no table file
   */
  void importBucket(int shard, long start, ExportImportFilesMetaData exported)
      throws RocksDBException {
    lock.lock();
    try {
      checkOpen();
      ShardColumnFamilies cfs = closedShards.computeIfAbsent(shard, ShardColumnFamilies::new);
      ColumnFamilyDescriptor descriptor = new ColumnFamilyDescriptor(
          bytes(ShardColumnFamilyNames.bucket(shard, start)), resources.bucketOptions());
      ColumnFamilyHandle handle;
      if (exported == null) {
        handle = creator.create(descriptor);
      } else {
        try (ImportColumnFamilyOptions options = new ImportColumnFamilyOptions().setMoveFiles(true)) {
          handle = db.createColumnFamilyWithImport(descriptor, options, exported);
        }
      }
      cfs.buckets.put(start, handle);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Writes an imported shard's metadata, synced, as the import's last step: from this write
   * on, the shard counts as held.
   *
   * @param storeId the store's identity, or null if it had none yet (one is made on open)
   */
  void importMeta(int shard, String storeId, long budgetHorizonMillis) throws RocksDBException {
    lock.lock();
    try {
      checkOpen();
      ShardColumnFamilies cfs = closedShards.computeIfAbsent(shard, ShardColumnFamilies::new);
      if (cfs.meta == null) {
        cfs.meta = creator.create(new ColumnFamilyDescriptor(
            bytes(ShardColumnFamilyNames.meta(shard)), resources.metadataOptions()));
      }
      try (WriteBatch batch = new WriteBatch(); WriteOptions synced = new WriteOptions().setSync(true)) {
        if (storeId != null) {
          batch.put(cfs.meta, ShardMetaKeys.STORE_ID, ShardMetaKeys.storeId(storeId));
        }
        if (budgetHorizonMillis > 0) {
          batch.put(cfs.meta, ShardMetaKeys.BUDGET_HORIZON, ShardMetaKeys.millis(budgetHorizonMillis));
        }
        batch.put(cfs.meta, ShardMetaKeys.SHARD_ID, ShardMetaKeys.shardId(shard));
        db.write(synced, batch);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Begins replacing a closed shard's data with a leader's snapshot: deletes what the node
   * holds of it, then takes the snapshot's chunks (see {@link ShardInstall}).
   *
   * @throws IllegalStateException if the shard is open
   */
  public ShardInstall beginInstall(int shard) {
    lock.lock();
    try {
      checkOpen();
      if (openShards.contains(shard)) {
        throw new IllegalStateException("shard " + shard + " is open; close it before installing");
      }
      deleteShard(shard);
      closedShards.put(shard, new ShardColumnFamilies(shard));
      installing.add(shard);
      return new ShardInstall(this, shard);
    } finally {
      lock.unlock();
    }
  }

  /**
   * The install of {@code shard} that a restart interrupted, if this node keeps one: the shard
   * then has no store to open until a leader finishes or replaces the install.
   */
  public java.util.Optional<InstallStage> stagedInstall(int shard) {
    lock.lock();
    try {
      return java.util.Optional.ofNullable(staged.get(shard));
    } finally {
      lock.unlock();
    }
  }

  /**
   * Takes up the install that a restart interrupted, to go on from where its stage says.
   *
   * @throws IllegalStateException if the shard keeps no such install
   */
  public ShardInstall resumeInstall(int shard) {
    lock.lock();
    try {
      checkOpen();
      InstallStage stage = staged.get(shard);
      if (stage == null) {
        throw new IllegalStateException("shard " + shard + " keeps no unfinished install");
      }
      return ShardInstall.resumed(this, shard, stage);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Saves an install's progress, synced: the chunks written before it (unsynced) become
   * durable with it, and a restart keeps them (see ShardInstall).
   */
  void stageInstall(int shard, InstallStage stage) {
    lock.lock();
    try {
      checkOpen();
      ShardColumnFamilies cfs = closedShards.get(shard);
      if (cfs.meta == null) {
        cfs.meta = creator.create(new ColumnFamilyDescriptor(
            bytes(ShardColumnFamilyNames.meta(shard)), resources.metadataOptions()));
      }
      try (WriteOptions synced = new WriteOptions().setSync(true)) {
        db.put(cfs.meta, synced, ShardMetaKeys.INSTALL_STAGE, stage.encode());
      }
    } catch (RocksDBException e) {
      throw new StorageException("shard " + shard + ": cannot save the install's progress", e);
    } finally {
      lock.unlock();
    }
  }

  void installBucket(int shard, long start) {
    lock.lock();
    try {
      checkOpen();
      ShardColumnFamilies cfs = closedShards.get(shard);
      if (!cfs.buckets.containsKey(start)) {
        cfs.buckets.put(start, creator.create(new ColumnFamilyDescriptor(
            bytes(ShardColumnFamilyNames.bucket(shard, start)), resources.bucketOptions())));
      }
    } catch (RocksDBException e) {
      throw new StorageException("shard " + shard + ": cannot create bucket " + start, e);
    } finally {
      lock.unlock();
    }
  }

  void installData(int shard, SnapshotChunk.Data data) {
    ColumnFamilyHandle cf;
    lock.lock();
    try {
      checkOpen();
      cf = closedShards.get(shard).buckets.get(data.bucketStart());
      try (WriteBatch batch = new WriteBatch()) {
        for (int i = 0; i < data.keys().size(); i++) {
          batch.put(cf, data.keys().get(i), data.values().get(i));
        }
        db.write(resources.unsyncedWriteOptions(), batch);
      }
    } catch (RocksDBException e) {
      throw new StorageException("shard " + shard + ": cannot write snapshot data", e);
    } finally {
      lock.unlock();
    }
  }

  /** The install's last step: the metadata, synced, the shard id last (see ShardInstall). */
  void installMeta(int shard, SnapshotChunk.Header header) {
    lock.lock();
    try {
      checkOpen();
      ShardColumnFamilies cfs = closedShards.get(shard);
      if (cfs.meta == null) {
        cfs.meta = creator.create(new ColumnFamilyDescriptor(
            bytes(ShardColumnFamilyNames.meta(shard)), resources.metadataOptions()));
      }
      // A new identity: what the replaced copy acknowledged says nothing of this one.
      String storeId = java.util.UUID.randomUUID().toString();
      try (WriteBatch batch = new WriteBatch();
          WriteOptions synced = new WriteOptions().setSync(true)) {
        batch.delete(cfs.meta, ShardMetaKeys.INSTALL_STAGE);
        batch.put(cfs.meta, ShardMetaKeys.STORE_ID, ShardMetaKeys.storeId(storeId));
        batch.put(cfs.meta, ShardMetaKeys.LOG_POSITION, ShardMetaKeys.position(header.position()));
        batch.put(cfs.meta, ShardMetaKeys.EPOCH_HISTORY, ShardMetaKeys.epochHistory(header.epochs()));
        if (header.budgetHorizonMillis() > 0) {
          batch.put(cfs.meta, ShardMetaKeys.BUDGET_HORIZON,
              ShardMetaKeys.millis(header.budgetHorizonMillis()));
        }
        batch.put(cfs.meta, ShardMetaKeys.SHARD_ID, ShardMetaKeys.shardId(shard));
        db.write(synced, batch);
      }
      installing.remove(shard);
      staged.remove(shard);
      log.info("shard {}: installed a snapshot at {} ({} buckets) as store {}", shard,
          header.position(), cfs.buckets.size(), storeId);
    } catch (RocksDBException e) {
      throw new StorageException("shard " + shard + ": cannot complete the install", e);
    } finally {
      lock.unlock();
    }
  }

  void abortInstall(int shard) {
    lock.lock();
    try {
      installing.remove(shard);
      if (!closed) {
        deleteShard(shard);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Makes every write before it durable: one fsync of the log for a follower's batch. */
  public void syncWal() {
    try {
      db.syncWal();
    } catch (RocksDBException e) {
      throw new StorageException("cannot sync the write-ahead log", e);
    }
  }

  /**
   * Bytes of the write-ahead log, which all shards share. It belongs to the node, not to a
   * shard, so it is counted once, beside the shards' table files.
   */
  public long walBytes() {
    lock.lock();
    try {
      checkOpen();
      long bytes = 0;
      for (LogFile f : db.getSortedWalFiles()) {
        bytes += f.sizeFileBytes();
      }
      return bytes;
    } catch (RocksDBException e) {
      throw new StorageException("cannot read the size of the write-ahead log", e);
    } finally {
      lock.unlock();
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new StorageException("the node database is closed");
    }
  }

  private static byte[] bytes(String name) {
    return name.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Syncs the WAL and closes the database.
   *
   * @throws IllegalStateException if a shard store is still open: its writer could otherwise
   *     use a freed native handle. The database is then left open.
   */
  @Override
  public void close() {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      if (!openShards.isEmpty()) {
        throw new IllegalStateException("shards " + openShards
            + " are still open; close their stores before the node database");
      }
      closed = true;
      closedShards.values().forEach(ShardColumnFamilies::closeAll);
      closedShards.clear();
      defaultFamily.close();
      try {
        // Sync the WAL and release the lock; the risk-power-loss mode relies on this at shutdown.
        db.syncWal();
        db.closeE();
      } catch (RocksDBException e) {
        log.warn("the node database reported {} on close", e.getMessage());
        db.close();
      }
    } finally {
      lock.unlock();
    }
  }
}
