package dev.dedupe.client;

import dev.dedupe.client.Item.Entry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Gathers CheckAndInsert ids from any number of caller threads into batches, one open batch
 * per (namespace, lease, caller's attempt token), in the manner of Kafka's {@code RecordAccumulator}.
 *
 * <p>A batch is sent when it holds {@code maxIds} ids, or {@code linger} after its first id
 * arrived, whichever comes first. Linger trades latency for throughput: a lone caller waits up
 * to the linger time for company, and in return many callers' ids share one RPC, one trip
 * through the server's shard queue and one fsync of its write-ahead log. With linger zero a
 * batch is sent as soon as the call that opened it has added its ids (a multi-id call still
 * goes as one request), so nothing waits. Under load batches fill before linger runs out,
 * so the linger time is paid mostly when traffic is light, when it matters least.
 *
 * <p>An id never appears twice in one request: an id already in the open batch closes that
 * batch and opens the next one, which is sent only after the first one's answers are in. So
 * the second occurrence is decided against the first (DUPLICATE, or IN_PROGRESS with a lease),
 * in the order the callers asked. The server would answer an id repeated within one request
 * NEW at its first position and DUPLICATE after (ShardStorageTest pins that), which is right
 * for one caller but would not say which of two callers sharing the batch asked first; a
 * separate batch keeps each caller's answer decided in the order they asked.
 *
 * <p>Memory: the accumulator itself holds at most one open batch per key in use; the bound on
 * all ids waiting (here, in flight, in retries) is the client's
 * {@code maxPendingIds} semaphore, taken before {@link #append} and given back as each id's
 * future completes.
 *
 * <p>Threads: {@link #append} runs on caller threads, linger expiry on the client's timer
 * thread, {@link #flushAll} on the thread closing the client. All of them touch {@link #open}
 * and each batch's fields only while holding {@link #lock}; a batch that has left
 * {@link #open} is no longer changed by anyone, and it is sent outside the lock.
 */
final class Accumulator {

  /**
   * What ids must share to share a request.
   *
   * @param attemptToken the callers' own token, or null for a fresh one per batch
   */
  record Key(String namespace, Duration lease, String attemptToken) {}

  /** Sends one closed batch. */
  interface Sender {
    void send(Key key, List<Entry> entries);
  }

  private static final CompletableFuture<Void> NOTHING_BEFORE = CompletableFuture.completedFuture(null);

  private static final class Batch {
    final Key key;
    final List<Entry> entries = new ArrayList<>();
    final Set<String> ids = new HashSet<>();
    /** Completes when the batch this one must follow is answered. */
    final CompletableFuture<?> after;
    /** Guarded by the lock: the pending linger expiry, or null. */
    ScheduledFuture<?> lingerTimer;

    Batch(Key key, CompletableFuture<?> after) {
      this.key = key;
      this.after = after;
    }
  }

  private final int maxIds;
  private final Duration linger;
  private final ScheduledExecutorService timer;
  private final Sender sender;
  private final ReentrantLock lock = new ReentrantLock();
  /** Guarded by {@link #lock}: the batch being filled, per key. */
  private final Map<Key, Batch> open = new HashMap<>();

  Accumulator(int maxIds, Duration linger, ScheduledExecutorService timer, Sender sender) {
    this.maxIds = maxIds;
    this.linger = linger;
    this.timer = timer;
    this.sender = sender;
  }

  /**
   * Adds one caller's ids, in order, to the open batch of {@code key} (and to new ones as
   * batches fill). Sends any batch that is ready; never blocks on the network.
   */
  void append(Key key, List<Entry> entries) {
    List<Batch> ready = new ArrayList<>(1);
    lock.lock();
    try {
      Batch batch = open.get(key);
      for (Entry entry : entries) {
        if (batch != null && batch.ids.contains(entry.id)) {
          close(batch);
          ready.add(batch);
          batch = openBatch(key, answered(batch));
        } else if (batch == null) {
          batch = openBatch(key, NOTHING_BEFORE);
        }
        batch.entries.add(entry);
        batch.ids.add(entry.id);
        if (batch.entries.size() >= maxIds) {
          close(batch);
          ready.add(batch);
          batch = null;
        }
      }
      if (batch != null && (linger.isZero() || batch.lingerTimer == null)) {
        // No linger, or no timer to end it (the client is closing): send it now.
        close(batch);
        ready.add(batch);
      }
    } finally {
      lock.unlock();
    }
    ready.forEach(this::send);
  }

  /** Sends every open batch now (the client is closing). */
  void flushAll() {
    List<Batch> ready;
    lock.lock();
    try {
      ready = new ArrayList<>(open.values());
      ready.forEach(this::close);
    } finally {
      lock.unlock();
    }
    ready.forEach(this::send);
  }

  /** Timer thread: the batch's linger time is up. */
  private void lingerExpired(Batch batch) {
    lock.lock();
    try {
      if (open.get(batch.key) != batch) {
        return; // already sent because it filled up
      }
      close(batch);
    } finally {
      lock.unlock();
    }
    send(batch);
  }

  /** Holding the lock: makes {@code key}'s open batch and starts its linger clock. */
  private Batch openBatch(Key key, CompletableFuture<?> after) {
    Batch batch = new Batch(key, after);
    open.put(key, batch);
    if (!linger.isZero()) {
      try {
        batch.lingerTimer = timer.schedule(
            () -> lingerExpired(batch), linger.toNanos(), TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException closed) {
        // The client closed under a call that had already passed its check: append sends
        // the batch at once (and the dispatcher fails it as closed) rather than strand it.
      }
    }
    return batch;
  }

  /** Holding the lock: takes {@code batch} out of {@link #open}; nothing changes it after. */
  private void close(Batch batch) {
    open.remove(batch.key, batch);
    if (batch.lingerTimer != null) {
      batch.lingerTimer.cancel(false);
      batch.lingerTimer = null;
    }
  }

  /** Completes once every id of {@code batch} is answered (or failed). */
  private static CompletableFuture<?> answered(Batch batch) {
    return CompletableFuture.allOf(batch.entries.stream()
        .map(e -> e.result.handle((d, t) -> null))
        .toArray(CompletableFuture[]::new));
  }

  private void send(Batch batch) {
    batch.after.whenComplete((ignored, alsoIgnored) -> sender.send(batch.key, batch.entries));
  }
}
