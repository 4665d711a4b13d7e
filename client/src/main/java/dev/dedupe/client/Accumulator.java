package dev.dedupe.client;

import dev.dedupe.client.Item.Entry;
import java.time.Duration;
import java.util.ArrayDeque;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Gathers CheckAndInsert ids from any number of caller threads into batches, one open batch
 * per (namespace, lease, caller's attempt token), in the manner of Kafka's
 * {@code RecordAccumulator}.
 *
 * <p>When a batch is sent depends on {@code linger}:
 * <ul>
 *   <li><b>Linger zero (the default): natural batching.</b> A batch is sent as soon as fewer
 *       than {@code maxInFlight} batches of its key are in flight (sent and not yet answered),
 *       or when it holds {@code maxIds} ids. Otherwise ids gather in the open batch, which is
 *       sent the moment an in-flight batch of its key is answered. This is the "smart
 *       batching" of the LMAX Disruptor and, in spirit, Nagle's algorithm: a lone caller waits
 *       for nothing, since nothing of its key is in flight, and under load a batch holds the
 *       ids that arrived while the previous one was on the wire, so batches grow with the
 *       number of waiting callers without a timer that every call pays. The bound trades
 *       latency against requests: a higher bound lets more small requests overlap (lower
 *       latency while the server has idle capacity), a lower one makes fewer, larger requests
 *       (fewer RPCs, and more ids per write round and fsync on each shard a batch touches).
 *   <li><b>Linger positive: a timed wait, as before natural batching.</b> A batch is sent when
 *       it holds {@code maxIds} ids or {@code linger} after its first id arrived, whichever
 *       comes first, however many batches are in flight: linger is the upper bound on an id's
 *       wait, and in return each request gathers up to {@code linger} worth of calls, for users
 *       who prefer fewer, larger requests to the lowest latency.
 * </ul>
 * A full batch is sent at once in both modes (waiting could not make it larger); so under a
 * flood of async calls, full batches may exceed the in-flight bound, and {@code maxPendingIds}
 * is what bounds them.
 *
 * <p>An id never appears twice in one request: an id already in the open batch closes that
 * batch and opens the next one, which is sent only after the first one's answers are in. So
 * the second occurrence is decided against the first (DUPLICATE, or IN_PROGRESS with a lease),
 * in the order the callers asked. The server would answer an id repeated within one request
 * NEW at its first position and DUPLICATE after (ShardStorageTest pins that), which is right
 * for one caller but would not say which of two callers sharing the batch asked first; a
 * separate batch keeps each caller's answer decided in the order they asked. The batches of a
 * key leave in the order they were opened (a batch closed by a repeated id waits for a slot
 * like the open one, and the batches behind it wait behind it), so a batch never holds an
 * in-flight slot while the batch it must follow waits for one.
 *
 * <p>"In flight" means: taken out of the accumulator to be sent, until its first attempt is
 * over (every RPC of it answered or failed, and the outcome handled), or until every one of
 * its ids' futures is complete, whichever comes first. The second is the condition every
 * ending of a batch meets (an answer, a per-id failure, retries exhausted, a deadline,
 * INVALID_ARGUMENT and the per-caller re-send after it, the client closing), so the slot is
 * given back on every path, and a batch that failed does not stall its key. The first keeps a
 * batch that waits out a retry backoff (a node of the cluster is down, say) from holding up
 * later ids, most of which are bound for healthy nodes: the bound counts round trips on the
 * wire, which is what natural batching paces itself by. Retries are bounded by
 * {@code maxPendingIds} like everything else.
 *
 * <p>Memory: the accumulator holds, per key in use, the open batch and the batches closed by
 * a repeated id that wait for a slot; a key's state is dropped when it has neither waiting nor
 * in-flight batches. The bound on all ids waiting (here, in flight, in retries) is the
 * client's {@code maxPendingIds} semaphore, taken before {@link #append} and given back as
 * each id's future completes.
 *
 * <p>Threads: {@link #append} runs on caller threads, linger expiry on the client's timer
 * thread, the end of a batch on whichever thread completes its last id (a gRPC callback
 * thread, the client's executor, the timer), {@link #flushAll} on the thread closing the
 * client. All of them touch {@link #lanes} and each lane's and batch's fields only while
 * holding {@link #lock}; a batch that has left its lane is no longer changed by anyone, and
 * it is sent outside the lock.
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
    /**
     * Sends the batch's first attempt; never throws. Returns a future that completes when that
     * attempt is over (answered, failed, or its retry scheduled), or that never fails.
     */
    CompletableFuture<?> send(Key key, List<Entry> entries);
  }

  private static final CompletableFuture<Void> NOTHING_BEFORE = CompletableFuture.completedFuture(null);

  private static final class Batch {
    final Key key;
    final List<Entry> entries = new ArrayList<>();
    final Set<String> ids = new HashSet<>();
    /** Completes when the batch this one must follow is answered. */
    final CompletableFuture<?> after;
    /** Completes when every id of this batch is answered or finally failed, retries and all. */
    final CompletableFuture<Void> answered = new CompletableFuture<>();
    /** Guarded by the lock: no more ids join it (it is full, or an id repeated). */
    boolean closed;
    /** Guarded by the lock: its linger time is up, or there is no timer to end it. */
    boolean due;
    /** Guarded by the lock: the pending linger expiry, or null. */
    ScheduledFuture<?> lingerTimer;

    Batch(Key key, CompletableFuture<?> after) {
      this.key = key;
      this.after = after;
    }

    boolean full(int maxIds) {
      return entries.size() >= maxIds;
    }
  }

  /** One key's batches. Guarded by the lock. */
  private static final class Lane {
    final Key key;
    /** Batches not yet sent, oldest first; only the last one may be open to more ids. */
    final ArrayDeque<Batch> waiting = new ArrayDeque<>(2);
    /** Batches sent and not yet answered. */
    int inFlight;

    Lane(Key key) {
      this.key = key;
    }

    Batch open() {
      Batch last = waiting.peekLast();
      return last != null && !last.closed ? last : null;
    }
  }

  private final int maxIds;
  private final Duration linger;
  private final int maxInFlight;
  private final ScheduledExecutorService timer;
  private final Sender sender;
  private final ReentrantLock lock = new ReentrantLock();
  /** Guarded by {@link #lock}: the keys with batches waiting or in flight. */
  private final Map<Key, Lane> lanes = new HashMap<>();
  /** Guarded by {@link #lock}: the client is closing; every batch goes at once. */
  private boolean flushing;

  Accumulator(int maxIds, Duration linger, int maxInFlight, ScheduledExecutorService timer,
      Sender sender) {
    this.maxIds = maxIds;
    this.linger = linger;
    this.maxInFlight = maxInFlight;
    this.timer = timer;
    this.sender = sender;
  }

  /**
   * Adds one caller's ids, in order, to the open batch of {@code key} (and to new ones as
   * batches fill or an id repeats). Sends every batch that may go; never blocks on the network.
   */
  void append(Key key, List<Entry> entries) {
    List<Batch> ready;
    lock.lock();
    try {
      Lane lane = lanes.computeIfAbsent(key, Lane::new);
      Batch batch = lane.open();
      for (Entry entry : entries) {
        if (batch != null && batch.ids.contains(entry.id)) {
          close(batch);
          batch = openBatch(lane, key, batch.answered);
        } else if (batch == null) {
          batch = openBatch(lane, key, NOTHING_BEFORE);
        }
        batch.entries.add(entry);
        batch.ids.add(entry.id);
        if (batch.full(maxIds)) {
          close(batch);
          batch = null;
        }
      }
      ready = takeReady(lane);
    } finally {
      lock.unlock();
    }
    ready.forEach(this::send);
  }

  /** Sends every waiting batch now, in-flight bound or not (the client is closing). */
  void flushAll() {
    List<Batch> ready = new ArrayList<>();
    lock.lock();
    try {
      flushing = true;
      for (Lane lane : List.copyOf(lanes.values())) {
        ready.addAll(takeReady(lane));
      }
    } finally {
      lock.unlock();
    }
    ready.forEach(this::send);
  }

  /** Ids in batches not yet sent (open or waiting for a slot); for tests in this package. */
  int waitingIds() {
    lock.lock();
    try {
      return lanes.values().stream()
          .flatMap(lane -> lane.waiting.stream())
          .mapToInt(batch -> batch.entries.size())
          .sum();
    } finally {
      lock.unlock();
    }
  }

  /** Keys with batches waiting or in flight; for tests in this package. */
  int keysHeld() {
    lock.lock();
    try {
      return lanes.size();
    } finally {
      lock.unlock();
    }
  }

  /** Timer thread: the batch's linger time is up. */
  private void lingerExpired(Batch batch) {
    List<Batch> ready;
    lock.lock();
    try {
      batch.lingerTimer = null;
      batch.due = true;
      Lane lane = lanes.get(batch.key);
      if (lane == null || !lane.waiting.contains(batch)) {
        return; // already sent
      }
      ready = takeReady(lane);
    } finally {
      lock.unlock();
    }
    ready.forEach(this::send);
  }

  /** Any thread, once per sent batch: its first attempt is over; its slot is free. */
  private void slotFree(Batch batch) {
    List<Batch> ready;
    lock.lock();
    try {
      Lane lane = lanes.get(batch.key);
      lane.inFlight--;
      ready = takeReady(lane);
    } finally {
      lock.unlock();
    }
    ready.forEach(this::send);
  }

  /**
   * Holding the lock: takes out of {@code lane}, oldest first, every batch that may go now,
   * counting each as in flight; drops the lane when nothing of it is left.
   */
  private List<Batch> takeReady(Lane lane) {
    List<Batch> ready = List.of();
    Batch head;
    while ((head = lane.waiting.peekFirst()) != null && mayGo(lane, head)) {
      lane.waiting.pollFirst();
      head.closed = true;
      if (head.lingerTimer != null) {
        head.lingerTimer.cancel(false);
        head.lingerTimer = null;
      }
      lane.inFlight++;
      if (ready.isEmpty()) {
        ready = new ArrayList<>(2);
      }
      ready.add(head);
    }
    if (lane.waiting.isEmpty() && lane.inFlight == 0) {
      lanes.remove(lane.key, lane);
    }
    return ready;
  }

  /** Holding the lock: whether the oldest waiting batch of {@code lane} may be sent now. */
  private boolean mayGo(Lane lane, Batch head) {
    if (flushing || head.full(maxIds) || head.due) {
      return true;
    }
    if (linger.isZero()) {
      return lane.inFlight < maxInFlight;
    }
    // Timed mode: a batch closed by a repeated id can gather nothing more; send it (it still
    // waits for the batch it follows). The open one waits out its linger.
    return head.closed;
  }

  /** Holding the lock: makes {@code key}'s open batch and, in timed mode, starts its clock. */
  private Batch openBatch(Lane lane, Key key, CompletableFuture<?> after) {
    Batch batch = new Batch(key, after);
    lane.waiting.addLast(batch);
    if (!linger.isZero() && !flushing) {
      try {
        batch.lingerTimer = timer.schedule(
            () -> lingerExpired(batch), linger.toNanos(), TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException closed) {
        // The client closed under a call that had already passed its check: send the batch at
        // once (the dispatcher fails it as closed) rather than strand it.
        batch.due = true;
      }
    }
    return batch;
  }

  /** Holding the lock: no more ids join {@code batch}; it stays in line until it may go. */
  private static void close(Batch batch) {
    batch.closed = true;
  }

  /**
   * Sends {@code batch} once the batch it follows is answered. Its slot is freed when its
   * first attempt is over, or when every one of its ids is complete, whichever comes first
   * (the second covers every ending the first might miss: a failure before anything was
   * sent, a future completed by its caller).
   */
  private void send(Batch batch) {
    AtomicBoolean freed = new AtomicBoolean();
    Runnable free = () -> {
      if (freed.compareAndSet(false, true)) {
        slotFree(batch);
      }
    };
    AtomicInteger left = new AtomicInteger(batch.entries.size());
    for (Entry entry : batch.entries) {
      entry.result.whenComplete((d, t) -> {
        if (left.decrementAndGet() == 0) {
          batch.answered.complete(null);
          free.run();
        }
      });
    }
    batch.after.whenComplete((ignored, alsoIgnored) -> {
      CompletableFuture<?> attempt;
      try {
        attempt = sender.send(batch.key, batch.entries);
      } catch (RuntimeException e) {
        attempt = NOTHING_BEFORE; // the sender fails its entries itself; never strand a slot
      }
      attempt.whenComplete((done, failure) -> free.run());
    });
  }
}
