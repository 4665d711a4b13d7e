package dev.dedupe.server.shard;

import dev.dedupe.server.core.IdResult;
import dev.dedupe.server.core.LeaseOpResult;
import dev.dedupe.server.core.Verdict;
import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.Holding;
import dev.dedupe.server.storage.ShardStore;
import dev.dedupe.server.storage.ShardWrite;
import dev.dedupe.server.storage.StoredRecord;
import dev.dedupe.server.storage.StorageException;
import java.nio.ByteBuffer;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one write path of a shard: a thread that owns the shard's store and serves every request
 * for the shard in arrival order.
 *
 * <p>Each round takes everything queued (up to {@link #MAX_IDS_PER_ROUND} ids), reads all of
 * its ids with one batched lookup, decides them in order, and applies one atomic write batch;
 * with the default durability the batch's WAL sync is the round's single fsync, shared by every
 * request in it (group commit). Replies go out only after that write returns, so NEW is never
 * sent for an id that is not durable.
 *
 * <p>Serial execution is what makes "exactly one NEW per id and window" hold without locks: two
 * requests for the same id are decided one after the other, and the second sees the first's
 * record (in the store, or in this round's overlay). Replication will hook in here: a round's
 * write batch is the unit to forward before replying.
 *
 * <p>Threads: {@link #checkAndInsert}, {@link #check}, {@link #forget} and {@link #submit} may
 * be called from any thread; everything else, the store included, runs on the writer thread.
 */
public final class ShardWriter implements AutoCloseable {

  /** The most ids decided in one round; bounds the round's memory and tail latency. */
  static final int MAX_IDS_PER_ROUND = 20_000;

  private enum State { CREATED, RUNNING, STOPPING, CLOSED }

  private enum Kind { CHECK_AND_INSERT, CHECK, FORGET, COMMIT, RELEASE, EXTEND_LEASE }

  private sealed interface Task permits DataTask, StoreTask, Stop {}

  /**
   * One request's part for this shard.
   *
   * @param perId per-id bytes in digest order (fingerprints for CheckAndInsert, results for
   *     Commit), or an empty list
   */
  private record DataTask(
      Kind kind, String namespace, long windowMillis, List<byte[]> digests, String token,
      long leaseMillis, List<byte[]> perId, CompletableFuture<Object> future) implements Task {

    byte[] perIdAt(int i) {
      return perId.isEmpty() ? NO_BYTES : perId.get(i);
    }
  }

  private static final byte[] NO_BYTES = new byte[0];

  private record StoreTask(Function<ShardStore, ?> action, CompletableFuture<Object> future)
      implements Task {}

  private record Stop() implements Task {}

  private final ShardStore store;
  private final BucketGrid grid;
  private final InstantSource clock;
  private final int queueCapacity;
  private final BlockingQueue<Task> queue;
  private final Thread thread;
  private final AtomicReference<State> state = new AtomicReference<>(State.CREATED);
  private final Logger log;
  private volatile boolean lastWriteFailed;
  /** Writer thread only: the newest time seen, so that the clock never runs backwards here. */
  private long lastNowMillis;

  public ShardWriter(ShardStore store, BucketGrid grid, InstantSource clock, int queueCapacity) {
    this.store = store;
    this.grid = grid;
    this.clock = clock;
    this.queueCapacity = queueCapacity;
    this.queue = new ArrayBlockingQueue<>(queueCapacity + 1);
    String name = String.format("shard-%04d-writer", store.shardId());
    this.thread = Thread.ofPlatform().name(name).unstarted(this::run);
    this.log = LoggerFactory.getLogger(ShardWriter.class.getName() + ".shard-" + store.shardId());
  }

  public int shardId() {
    return store.shardId();
  }

  public void start() {
    if (!state.compareAndSet(State.CREATED, State.RUNNING)) {
      throw new IllegalStateException("shard " + shardId() + " writer is " + state.get());
    }
    thread.start();
  }

  /** Requests waiting for this shard now. */
  public int queueDepth() {
    return queue.size();
  }

  /** True while the writer accepts work and its last write succeeded. */
  public boolean isHealthy() {
    return state.get() == State.RUNNING && !lastWriteFailed;
  }

  /**
   * Decides each digest and records the new ones, in order: one result per digest.
   *
   * @param windowMillis the namespace's window
   * @param token the attempt token, or "" for none
   * @param leaseMillis the lease new ids get, or 0 to record them as done
   * @param fingerprints one per digest (empty arrays for none), or an empty list
   */
  public CompletableFuture<IdResult[]> checkAndInsert(
      String namespace, long windowMillis, List<byte[]> digests, String token, long leaseMillis,
      List<byte[]> fingerprints) {
    return enqueueData(
        Kind.CHECK_AND_INSERT, namespace, windowMillis, digests, token, leaseMillis, fingerprints);
  }

  /** Reports what {@link #checkAndInsert} without a token would answer, recording nothing. */
  public CompletableFuture<IdResult[]> check(
      String namespace, long windowMillis, List<byte[]> digests) {
    return enqueueData(Kind.CHECK, namespace, windowMillis, digests, "", 0, List.of());
  }

  /** Removes every record of each digest; true where a record within the window was held. */
  public CompletableFuture<boolean[]> forget(
      String namespace, long windowMillis, List<byte[]> digests) {
    return enqueueData(Kind.FORGET, namespace, windowMillis, digests, "", 0, List.of());
  }

  /**
   * Marks ids leased to {@code token} as done, storing a result per id.
   *
   * @param results one per digest, or an empty list to store none
   */
  public CompletableFuture<LeaseOpResult[]> commit(
      String namespace, long windowMillis, List<byte[]> digests, String token,
      List<byte[]> results) {
    return enqueueData(Kind.COMMIT, namespace, windowMillis, digests, token, 0, results);
  }

  /** Removes ids leased to {@code token}, so that a retry can do the work. */
  public CompletableFuture<LeaseOpResult[]> release(
      String namespace, long windowMillis, List<byte[]> digests, String token) {
    return enqueueData(Kind.RELEASE, namespace, windowMillis, digests, token, 0, List.of());
  }

  /** Moves the end of leases held by {@code token} to now plus {@code leaseMillis}. */
  public CompletableFuture<LeaseOpResult[]> extendLease(
      String namespace, long windowMillis, List<byte[]> digests, String token, long leaseMillis) {
    return enqueueData(
        Kind.EXTEND_LEASE, namespace, windowMillis, digests, token, leaseMillis, List.of());
  }

  /** Runs {@code action} on the writer thread, between rounds, with the store. */
  @SuppressWarnings("unchecked")
  public <T> CompletableFuture<T> submit(Function<ShardStore, T> action) {
    CompletableFuture<Object> future = new CompletableFuture<>();
    enqueue(new StoreTask(action, future), future);
    return (CompletableFuture<T>) (CompletableFuture<?>) future;
  }

  /** The writer's clock reading, never earlier than one it used before. */
  long nowMillis() {
    lastNowMillis = Math.max(lastNowMillis, clock.millis());
    return lastNowMillis;
  }

  @SuppressWarnings("unchecked")
  private <T> CompletableFuture<T> enqueueData(
      Kind kind, String namespace, long windowMillis, List<byte[]> digests, String token,
      long leaseMillis, List<byte[]> perId) {
    CompletableFuture<Object> future = new CompletableFuture<>();
    enqueue(new DataTask(kind, namespace, windowMillis, digests, token, leaseMillis, perId, future),
        future);
    return (CompletableFuture<T>) (CompletableFuture<?>) future;
  }

  private void enqueue(Task task, CompletableFuture<Object> future) {
    if (state.get() != State.RUNNING) {
      future.completeExceptionally(
          new StorageException("shard " + shardId() + " is not serving (" + state.get() + ")"));
      return;
    }
    // One slot is kept free for the stop marker.
    if (queue.size() >= queueCapacity || !queue.offer(task)) {
      future.completeExceptionally(new ShardOverloadedException(shardId(), queueCapacity));
    }
  }

  private void run() {
    List<Task> round = new ArrayList<>();
    try {
      while (true) {
        Task first = queue.take();
        if (first instanceof Stop) {
          return;
        }
        round.add(first);
        int ids = idsOf(first);
        Task next;
        while (ids < MAX_IDS_PER_ROUND && (next = queue.peek()) != null && !(next instanceof Stop)) {
          round.add(queue.poll());
          ids += idsOf(next);
        }
        runRound(round);
        round.clear();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      failAll(round, new StorageException("shard " + shardId() + " writer stopped"));
    }
  }

  private static int idsOf(Task task) {
    return task instanceof DataTask d ? d.digests().size() : 1;
  }

  private void runRound(List<Task> round) {
    List<DataTask> data = new ArrayList<>();
    for (Task task : round) {
      if (task instanceof DataTask d) {
        data.add(d);
      } else if (task instanceof StoreTask s) {
        // Keep arrival order: data queued before a store task is decided first.
        decide(data);
        data.clear();
        runStoreTask(s);
      }
    }
    decide(data);
  }

  private void runStoreTask(StoreTask task) {
    try {
      task.future().complete(task.action().apply(store));
    } catch (RuntimeException e) {
      task.future().completeExceptionally(e);
    }
  }

  /**
   * One id's records as this round has left them so far: the store's state plus the round's
   * own writes, which reach the store only with the round's write batch. At most one record of
   * an id is ever within its window: a new one is written only when none is, and a lease taken
   * over replaces the expired one.
   */
  private static final class KeyState {
    /** The newest record, or null once removed. */
    StoredRecord newest;
    /** The bucket that holds {@link #newest}. */
    long newestBucket;
    /** Whether a record sits in the current bucket (a put there replaces it). */
    boolean inCurrentBucket;
    /** Older buckets that hold a record of the id (past the window, unless newest). */
    final List<Long> olderBuckets = new ArrayList<>(1);

    KeyState(Holding[] held, long currentBucket) {
      if (held.length > 0) {
        newest = held[0].record();
        newestBucket = held[0].bucketStart();
      }
      for (Holding h : held) {
        if (h.bucketStart() == currentBucket) {
          inCurrentBucket = true;
        } else {
          olderBuckets.add(h.bucketStart());
        }
      }
    }

    /** The record that decides, if it is within the window. */
    StoredRecord visible(long windowStart) {
      return newest != null && newest.firstSeenMillis() > windowStart ? newest : null;
    }
  }

  /** The round being decided: its time, its bucket, and the writes it has made so far. */
  private final class Round {
    final long now;
    final long currentBucket;
    final ShardWrite write = new ShardWrite();

    Round(long now) {
      this.now = now;
      this.currentBucket = grid.startOf(now);
    }

    /**
     * Writes a new record in the current bucket.
     *
     * @param takesOver whether it replaces a visible record (an expired lease), which must go
     *     so that one record decides; records past the window are left to their bucket's drop
     */
    void record(byte[] digest, String namespace, KeyState key, StoredRecord record,
        boolean takesOver) {
      if (takesOver && key.newestBucket != currentBucket
          && key.olderBuckets.remove((Long) key.newestBucket)) {
        // A lease taken over: the expired lease's record goes, so one record decides.
        write.delete(digest, namespace, key.newestBucket);
      }
      write.put(digest, namespace, currentBucket, record, !key.inCurrentBucket);
      key.inCurrentBucket = true;
      key.newest = record;
      key.newestBucket = currentBucket;
    }

    /** Rewrites the id's newest record where it is (commit, lease change). */
    void update(byte[] digest, String namespace, KeyState key, StoredRecord record) {
      write.put(digest, namespace, key.newestBucket, record, false);
      key.newest = record;
    }

    /** Deletes the id's newest record. */
    void removeNewest(byte[] digest, String namespace, KeyState key) {
      write.delete(digest, namespace, key.newestBucket);
      if (key.newestBucket == currentBucket) {
        key.inCurrentBucket = false;
      } else {
        key.olderBuckets.remove((Long) key.newestBucket);
      }
      key.newest = null;
    }

    /** Deletes every record of the id. */
    void removeAll(byte[] digest, String namespace, KeyState key) {
      for (long bucket : key.olderBuckets) {
        write.delete(digest, namespace, bucket);
      }
      key.olderBuckets.clear();
      if (key.inCurrentBucket) {
        write.delete(digest, namespace, currentBucket);
        key.inCurrentBucket = false;
      }
      key.newest = null;
    }
  }

  private void decide(List<DataTask> tasks) {
    if (tasks.isEmpty()) {
      return;
    }
    Object[] results = new Object[tasks.size()];
    try {
      Round round = new Round(nowMillis());
      store.ensureBucket(round.currentBucket);

      long since = Long.MAX_VALUE;
      List<byte[]> all = new ArrayList<>();
      for (DataTask task : tasks) {
        // Forget removes records past the window too, so it looks in every bucket.
        since = Math.min(since,
            task.kind() == Kind.FORGET ? Long.MIN_VALUE : round.now - task.windowMillis());
        all.addAll(task.digests());
      }
      Holding[][] held = store.lookup(all, since);

      Map<ByteBuffer, KeyState> keys = new HashMap<>();
      int k = 0;
      for (int t = 0; t < tasks.size(); t++) {
        DataTask task = tasks.get(t);
        int n = task.digests().size();
        Object[] answers = switch (task.kind()) {
          case CHECK_AND_INSERT, CHECK -> new IdResult[n];
          case FORGET -> null;
          case COMMIT, RELEASE, EXTEND_LEASE -> new LeaseOpResult[n];
        };
        boolean[] removed = task.kind() == Kind.FORGET ? new boolean[n] : null;
        for (int i = 0; i < n; i++, k++) {
          byte[] digest = task.digests().get(i);
          Holding[] heldHere = held[k];
          KeyState key = keys.computeIfAbsent(
              ByteBuffer.wrap(digest), d -> new KeyState(heldHere, round.currentBucket));
          StoredRecord visible = key.visible(round.now - task.windowMillis());
          switch (task.kind()) {
            case CHECK_AND_INSERT -> answers[i] = checkAndInsert(round, task, i, digest, key, visible);
            case CHECK -> answers[i] = check(round.now, visible);
            case FORGET -> {
              removed[i] = visible != null;
              round.removeAll(digest, task.namespace(), key);
            }
            case COMMIT -> answers[i] = commit(round, task, i, digest, key, visible);
            case RELEASE -> answers[i] = release(round, task, digest, key, visible);
            case EXTEND_LEASE -> answers[i] = extend(round, task, digest, key, visible);
          }
        }
        results[t] = task.kind() == Kind.FORGET ? removed : answers;
      }
      store.write(round.write);
      lastWriteFailed = false;
    } catch (RuntimeException e) {
      lastWriteFailed = true;
      log.error("shard {}: round of {} requests failed: {}", shardId(), tasks.size(), e.toString());
      StorageException failure = e instanceof StorageException se ? se
          : new StorageException("shard " + shardId() + ": round failed: " + e, e);
      tasks.forEach(task -> task.future().completeExceptionally(failure));
      return;
    }
    for (int t = 0; t < tasks.size(); t++) {
      tasks.get(t).future().complete(results[t]);
    }
  }

  private static IdResult checkAndInsert(
      Round round, DataTask task, int i, byte[] digest, KeyState key, StoredRecord visible) {
    long now = round.now;
    byte[] fingerprint = task.perIdAt(i);
    if (visible != null) {
      if (fingerprint.length > 0 && visible.fingerprint().length > 0
          && !java.util.Arrays.equals(fingerprint, visible.fingerprint())) {
        return new IdResult(Verdict.CONFLICT, visible.firstSeenMillis(), false, 0, NO_BYTES);
      }
      if (visible.ownedBy(task.token())) {
        // A retry of the attempt that recorded the id: NEW again, never DUPLICATE.
        StoredRecord mine = visible;
        if (mine.state() == StoredRecord.State.IN_PROGRESS && task.leaseMillis() > 0) {
          mine = mine.withLeaseUntil(Math.max(mine.leaseExpiresMillis(), now + task.leaseMillis()));
          round.update(digest, task.namespace(), key, mine);
        }
        return new IdResult(Verdict.NEW, mine.firstSeenMillis(), true,
            mine.state() == StoredRecord.State.IN_PROGRESS ? mine.leaseExpiresMillis() : 0, NO_BYTES);
      }
      if (visible.leaseLiveAt(now)) {
        return new IdResult(Verdict.IN_PROGRESS, visible.firstSeenMillis(), false,
            visible.leaseExpiresMillis(), NO_BYTES);
      }
      if (visible.state() == StoredRecord.State.COMMITTED) {
        return new IdResult(Verdict.DUPLICATE, visible.firstSeenMillis(), false, 0, visible.result());
      }
      // An expired lease: the holder lost it, and this caller takes the id over.
    }
    StoredRecord record = task.leaseMillis() > 0
        ? StoredRecord.leased(now, task.token(), now + task.leaseMillis(), fingerprint)
        : StoredRecord.committed(now, task.token(), fingerprint);
    round.record(digest, task.namespace(), key, record, visible != null);
    return new IdResult(Verdict.NEW, now, false, record.leaseExpiresMillis(), NO_BYTES);
  }

  private static IdResult check(long now, StoredRecord visible) {
    if (visible == null
        || (visible.state() == StoredRecord.State.IN_PROGRESS && !visible.leaseLiveAt(now))) {
      return new IdResult(Verdict.NEW, IdResult.NOT_RECORDED, false, 0, NO_BYTES);
    }
    if (visible.state() == StoredRecord.State.IN_PROGRESS) {
      return new IdResult(Verdict.IN_PROGRESS, visible.firstSeenMillis(), false,
          visible.leaseExpiresMillis(), NO_BYTES);
    }
    return new IdResult(Verdict.DUPLICATE, visible.firstSeenMillis(), false, 0, visible.result());
  }

  private static LeaseOpResult commit(
      Round round, DataTask task, int i, byte[] digest, KeyState key, StoredRecord visible) {
    String lost = leaseLost(task.token(), visible, round.now);
    if (lost != null) {
      return LeaseOpResult.lost(lost);
    }
    if (visible.state() == StoredRecord.State.IN_PROGRESS) {
      round.update(digest, task.namespace(), key, visible.commit(task.perIdAt(i)));
    }
    // Already committed by this token: a retried Commit is done, and keeps the first result.
    return LeaseOpResult.DONE;
  }

  private static LeaseOpResult release(
      Round round, DataTask task, byte[] digest, KeyState key, StoredRecord visible) {
    if (visible == null) {
      // Nothing is held: a retried Release finds its work done.
      return LeaseOpResult.DONE;
    }
    String lost = leaseLost(task.token(), visible, round.now);
    if (lost != null) {
      return LeaseOpResult.lost(lost);
    }
    if (visible.state() == StoredRecord.State.COMMITTED) {
      return LeaseOpResult.lost("the id is committed; Release only gives up a lease (Forget removes"
          + " a committed id)");
    }
    round.removeNewest(digest, task.namespace(), key);
    return LeaseOpResult.DONE;
  }

  private static LeaseOpResult extend(
      Round round, DataTask task, byte[] digest, KeyState key, StoredRecord visible) {
    String lost = leaseLost(task.token(), visible, round.now);
    if (lost != null) {
      return LeaseOpResult.lost(lost);
    }
    if (visible.state() == StoredRecord.State.COMMITTED) {
      return LeaseOpResult.lost("the id is already committed; there is no lease to extend");
    }
    StoredRecord extended = visible.withLeaseUntil(round.now + task.leaseMillis());
    round.update(digest, task.namespace(), key, extended);
    return new LeaseOpResult(true, "", extended.leaseExpiresMillis());
  }

  /**
   * Why {@code token} does not hold the id, or null if it does. A lease that ran out still
   * belongs to its token until another attempt takes the id over; then it is lost for good.
   */
  private static String leaseLost(String token, StoredRecord visible, long now) {
    if (visible == null) {
      return "lease lost: the id is not held (it was released, forgotten or never leased, or"
          + " its window passed)";
    }
    if (!visible.ownedBy(token)) {
      return visible.leaseLiveAt(now)
          ? "lease lost: another attempt holds the id until "
              + java.time.Instant.ofEpochMilli(visible.leaseExpiresMillis())
          : "lease lost: another attempt recorded the id at "
              + java.time.Instant.ofEpochMilli(visible.firstSeenMillis());
    }
    return null;
  }

  private void failAll(List<Task> tasks, StorageException failure) {
    for (Task task : tasks) {
      if (task instanceof DataTask d) {
        d.future().completeExceptionally(failure);
      } else if (task instanceof StoreTask s) {
        s.future().completeExceptionally(failure);
      }
    }
  }

  /**
   * Stops taking work, finishes what is queued, then closes the store. Safe to call twice.
   */
  @Override
  public void close() {
    if (state.compareAndSet(State.CREATED, State.CLOSED)) {
      store.close();
      return;
    }
    if (!state.compareAndSet(State.RUNNING, State.STOPPING)) {
      return;
    }
    // The queue keeps one slot free for this marker, so put never blocks for long.
    try {
      queue.put(new Stop());
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    List<Task> leftover = new ArrayList<>();
    queue.drainTo(leftover);
    failAll(leftover, new StorageException("shard " + shardId() + " closed"));
    store.close();
    state.set(State.CLOSED);
  }
}
