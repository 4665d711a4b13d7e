package dev.dedupe.server.replication;

import dev.dedupe.server.storage.StorageException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Group commit for a follower node: every append applied (without a sync) and waiting to be
 * made durable is covered by one sync of the node's log, however many leaders and shards it
 * came from. A sync covers the appends that asked before it began; those that ask while it
 * runs wait for the next one.
 *
 * <p>Threads: {@link #sync} from any thread; the syncs, and the completions of the futures
 * they answer (so whatever the caller chained on them), on this object's own platform thread
 * (a sync blocks in native code, which would pin a virtual thread's carrier).
 */
final class FollowerSyncs implements AutoCloseable {

  /** Makes every write before it durable; throws {@link StorageException} when it cannot. */
  interface WalSync {
    void sync();
  }

  private final WalSync wal;
  private final LinkedBlockingQueue<CompletableFuture<Void>> waiting = new LinkedBlockingQueue<>();
  private final Thread thread;
  private volatile boolean closed;

  FollowerSyncs(WalSync wal) {
    this.wal = wal;
    this.thread = Thread.ofPlatform().name("replica-sync").daemon(true).start(this::run);
  }

  /** Completes once everything written on this node before the call is durable. */
  CompletableFuture<Void> sync() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    waiting.add(done);
    if (closed) {
      failWaiting();
    }
    return done;
  }

  private void run() {
    List<CompletableFuture<Void>> batch = new ArrayList<>();
    try {
      while (!closed) {
        batch.add(waiting.take());
        waiting.drainTo(batch);
        try {
          wal.sync();
          batch.forEach(f -> f.complete(null));
        } catch (RuntimeException e) {
          batch.forEach(f -> f.completeExceptionally(e));
        }
        batch.clear();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      batch.forEach(f -> f.completeExceptionally(stopped()));
      failWaiting();
    }
  }

  private void failWaiting() {
    CompletableFuture<Void> f;
    while ((f = waiting.poll()) != null) {
      f.completeExceptionally(stopped());
    }
  }

  private static StorageException stopped() {
    return new StorageException("the node is stopping: its log is no longer synced");
  }

  @Override
  public void close() throws InterruptedException {
    closed = true;
    thread.interrupt();
    thread.join();
  }
}
