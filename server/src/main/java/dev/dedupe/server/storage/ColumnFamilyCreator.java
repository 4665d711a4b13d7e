package dev.dedupe.server.storage;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

/**
 * Creates column families in the node's database, those that several threads ask for at the
 * same time together in one RocksDB call: group creation, as RocksDB's write thread does group
 * commit.
 *
 * <p>Why: every column family RocksDB creates rewrites the database's OPTIONS file, which
 * lists the options of every column family, and syncs it; so creating them one at a time costs
 * time quadratic in the number of families. A node with 256 shards took about 70 s to create
 * its 512 families one by one on the development machine, and one with 1024 shards was not
 * serving after 128 s (docs/capacity.md). {@code createColumnFamilies} writes the OPTIONS file
 * once for the whole batch. The batches come from the node creating every shard's metadata
 * family at start-up ({@link NodeStore#openShards}), and from every shard's writer opening the
 * next time bucket at the same moment (each bucket is its shard's own log entry, so each
 * writer still creates its own, at its own point of its log).
 *
 * <p>Threads: any. The first caller to find no batch running runs one for everything queued
 * then, its own request included; callers that come meanwhile wait, and the first of them to
 * wake runs the next batch. It takes no other lock, so callers may hold the node store's.
 */
final class ColumnFamilyCreator {

  /** One caller's families, and what became of them. */
  private static final class Request {
    final List<ColumnFamilyDescriptor> descriptors;
    List<ColumnFamilyHandle> handles;
    RocksDBException failure;
    boolean done;

    Request(List<ColumnFamilyDescriptor> descriptors) {
      this.descriptors = descriptors;
    }
  }

  private final RocksDB db;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition batchDone = lock.newCondition();
  /** Guarded by lock. */
  private final List<Request> queued = new ArrayList<>();
  /** Guarded by lock. */
  private boolean running;
  /** Guarded by lock: RocksDB calls made, for tests and the start-up log. */
  private long batches;

  ColumnFamilyCreator(RocksDB db) {
    this.db = db;
  }

  /** Creates one column family; see {@link #createAll}. */
  ColumnFamilyHandle create(ColumnFamilyDescriptor descriptor) throws RocksDBException {
    return createAll(List.of(descriptor)).get(0);
  }

  /**
   * Creates the given column families, perhaps in one RocksDB call with other callers' ones,
   * and returns their handles in the order given. The caller owns the handles.
   *
   * <p>If RocksDB fails the batch, every request in it fails with that error. Families the
   * batch made before the failure exist without a handle here: the node database adopts them
   * on its next open, and drops those of a shard whose metadata names no shard (see
   * {@link NodeStore}), as after a crash.
   */
  List<ColumnFamilyHandle> createAll(List<ColumnFamilyDescriptor> descriptors)
      throws RocksDBException {
    if (descriptors.isEmpty()) {
      return List.of();
    }
    Request mine = new Request(List.copyOf(descriptors));
    boolean interrupted = false;
    lock.lock();
    try {
      queued.add(mine);
      while (!mine.done) {
        if (running) {
          // Not interruptible: the batch may hold this request, and its handles must not be
          // left to no one.
          try {
            batchDone.await();
          } catch (InterruptedException e) {
            interrupted = true;
          }
          continue;
        }
        List<Request> batch = new ArrayList<>(queued);
        queued.clear();
        running = true;
        lock.unlock();
        try {
          run(batch);
        } finally {
          lock.lock();
          running = false;
          batches++;
          batchDone.signalAll();
        }
      }
    } finally {
      lock.unlock();
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    if (mine.failure != null) {
      throw mine.failure;
    }
    return mine.handles;
  }

  /** RocksDB calls made so far (one per batch). */
  long batches() {
    lock.lock();
    try {
      return batches;
    } finally {
      lock.unlock();
    }
  }

  /** Runs one batch without the lock; marks every request in it done. */
  private void run(List<Request> batch) {
    List<ColumnFamilyDescriptor> all = new ArrayList<>();
    batch.forEach(r -> all.addAll(r.descriptors));
    List<ColumnFamilyHandle> handles = null;
    RocksDBException failure = null;
    try {
      handles = all.size() == 1
          ? List.of(db.createColumnFamily(all.get(0)))
          : db.createColumnFamilies(all);
    } catch (RocksDBException e) {
      failure = e;
    } catch (RuntimeException e) {
      failure = new RocksDBException("cannot create " + all.size() + " column families: " + e);
    }
    int next = 0;
    for (Request r : batch) {
      if (failure == null) {
        r.handles = List.copyOf(handles.subList(next, next + r.descriptors.size()));
        next += r.descriptors.size();
      } else {
        r.failure = failure;
      }
    }
    lock.lock();
    try {
      batch.forEach(r -> r.done = true);
    } finally {
      lock.unlock();
    }
  }
}
