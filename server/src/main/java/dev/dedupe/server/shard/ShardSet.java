package dev.dedupe.server.shard;

import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.NodeStore;
import dev.dedupe.server.storage.RocksShardStore;
import dev.dedupe.server.storage.ShardStore;
import dev.dedupe.server.storage.StorageException;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * The shards open on this node, each behind its own {@link ShardWriter}, each store a view over
 * the node's one database ({@link NodeStore}). A standalone node opens every shard of its data
 * directory; a cluster member opens the shards the assignment gives it and closes the ones it
 * loses. Closing a shard closes only its store; the node store, which the node closes after
 * this set, keeps the shard's data for a later open.
 *
 * <p>Threads: open and close may be called from several threads (startup, the cluster
 * member's event thread, node shutdown); a lock orders them, and once the set is closed an
 * open fails instead of starting writers that nothing would close. Lookups of writers may
 * come from any thread without the lock.
 */
public final class ShardSet implements AutoCloseable {

  /** Requests that may wait for one shard before new ones are refused as overload. */
  static final int QUEUE_CAPACITY = 4096;

  private final NodeStore nodeStore;
  private final BucketGrid grid;
  private final InstantSource clock;
  private final IntFunction<ShardLog> logs;
  private final AtomicReferenceArray<ShardWriter> writers;
  /** Orders open, close and close-all; lookups do not take it. */
  private final ReentrantLock lifecycle = new ReentrantLock();
  /** Guarded by lifecycle. */
  private boolean closed;

  /**
   * @param logs the log of each shard replica this set opens (the replication runtime's),
   *     made when the shard opens
   */
  public ShardSet(
      NodeStore nodeStore, BucketGrid grid, InstantSource clock, IntFunction<ShardLog> logs) {
    this.nodeStore = nodeStore;
    this.grid = grid;
    this.clock = clock;
    this.logs = logs;
    this.writers = new AtomicReferenceArray<>(nodeStore.shardCount());
  }

  /** A standalone set with every shard of the node open. */
  public static ShardSet openAll(NodeStore nodeStore, BucketGrid grid, InstantSource clock,
      IntFunction<ShardLog> logs) {
    ShardSet set = new ShardSet(nodeStore, grid, clock, logs);
    List<Integer> all = new ArrayList<>();
    for (int s = 0; s < nodeStore.shardCount(); s++) {
      all.add(s);
    }
    set.open(all);
    return set;
  }

  /**
   * Opens the given shards' stores and starts their writers; shards already open are left
   * alone. If any fails to open, the ones opened by this call are closed again.
   */
  public void open(Collection<Integer> shards) {
    lifecycle.lock();
    try {
      if (closed) {
        throw new StorageException("the node's shards are closed; not opening " + shards);
      }
      openLocked(shards);
    } finally {
      lifecycle.unlock();
    }
  }

  private void openLocked(Collection<Integer> shards) {
    List<Integer> notOpen = shards.stream().distinct().filter(s -> writers.get(s) == null).toList();
    // A shard whose snapshot install a restart interrupted has no store until its leader
    // resumes the install (SnapshotInstalls); its writer serves nothing meanwhile.
    List<Integer> awaiting = notOpen.stream()
        .filter(s -> nodeStore.stagedInstall(s).isPresent()).toList();
    List<Integer> toOpen = notOpen.stream().filter(s -> !awaiting.contains(s)).toList();
    // One call for all: the node store creates the new shards' column families together,
    // which one by one would cost time quadratic in the shard count (docs/capacity.md).
    List<RocksShardStore> stores = nodeStore.openShards(toOpen, grid);
    List<ShardWriter> opened = new ArrayList<>();
    try {
      for (RocksShardStore store : stores) {
        opened.add(new ShardWriter(store, grid, clock, QUEUE_CAPACITY, logs.apply(store.shardId())));
      }
      for (int shard : awaiting) {
        opened.add(ShardWriter.awaitingInstall(shard, grid, clock, QUEUE_CAPACITY,
            logs.apply(shard)));
      }
    } catch (RuntimeException e) {
      opened.forEach(ShardWriter::close);
      stores.subList(Math.min(opened.size(), stores.size()), stores.size())
          .forEach(RocksShardStore::close);
      throw e;
    }
    for (ShardWriter w : opened) {
      w.start();
      writers.set(w.shardId(), w);
    }
  }

  /** Stops serving a shard: its writer finishes what is queued, then its store closes. */
  public void close(int shard) {
    lifecycle.lock();
    try {
      ShardWriter w = writers.getAndSet(shard, null);
      if (w != null) {
        w.close();
      }
    } finally {
      lifecycle.unlock();
    }
  }

  public int shardCount() {
    return nodeStore.shardCount();
  }

  /**
   * Bytes on disk that belong to the node rather than to a shard: the write-ahead log, which
   * all shards share. The node's disk figure is this plus every shard's table files.
   */
  public long sharedDiskBytes() {
    return nodeStore.walBytes();
  }

  public BucketGrid grid() {
    return grid;
  }

  /** The writer of an open shard, or null if the shard is not open on this node. */
  public ShardWriter writer(int shard) {
    return writers.get(shard);
  }

  /** The identity of an open shard's store, or "" if the shard is not open here. */
  public String storeId(int shard) {
    ShardWriter w = writers.get(shard);
    return w == null ? "" : w.storeId();
  }

  /** Whether the shard is open here. */
  public boolean isOpen(int shard) {
    return writers.get(shard) != null;
  }

  /** The open shards' writers, in shard order. */
  public List<ShardWriter> writers() {
    List<ShardWriter> open = new ArrayList<>();
    for (int s = 0; s < writers.length(); s++) {
      ShardWriter w = writers.get(s);
      if (w != null) {
        open.add(w);
      }
    }
    return open;
  }

  /** True when every open shard's writer is serving and its last write succeeded. */
  public boolean isHealthy() {
    return writers().stream().allMatch(ShardWriter::isHealthy);
  }

  /** The node's store, for snapshot installs. */
  public NodeStore nodeStore() {
    return nodeStore;
  }

  /** Runs {@code action} on every open shard's writer thread; results in shard order. */
  public <T> List<T> onEveryShard(Function<ShardStore, T> action) {
    List<CompletableFuture<T>> futures = new ArrayList<>();
    for (ShardWriter w : writers()) {
      futures.add(w.submit(action));
    }
    List<T> results = new ArrayList<>();
    for (CompletableFuture<T> f : futures) {
      results.add(f.join());
    }
    return results;
  }

  @Override
  public void close() {
    lifecycle.lock();
    try {
      closed = true;
      // Writers close in parallel: each finishes its queue and syncs its WAL before closing.
      List<CompletableFuture<Void>> closing = new ArrayList<>();
      for (int s = 0; s < writers.length(); s++) {
        ShardWriter w = writers.getAndSet(s, null);
        if (w != null) {
          closing.add(CompletableFuture.runAsync(w::close));
        }
      }
      closing.forEach(CompletableFuture::join);
    } finally {
      lifecycle.unlock();
    }
  }
}
