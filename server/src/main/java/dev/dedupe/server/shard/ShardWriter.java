package dev.dedupe.server.shard;

import dev.dedupe.server.decision.IdResult;
import dev.dedupe.server.decision.LeaseOpResult;
import dev.dedupe.server.decision.Verdict;
import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.Holding;
import dev.dedupe.server.storage.LogEntry;
import dev.dedupe.server.storage.ShardStore;
import dev.dedupe.server.storage.ShardWrite;
import dev.dedupe.server.storage.StorageException;
import dev.dedupe.server.storage.StoredRecord;
import java.nio.ByteBuffer;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
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
 * record (in the store, or in this round's key states).
 *
 * <p>Replication: a round's write is the shard's next log entry ({@link ShardLog}). The writer
 * applies it locally and hands it to the log, which sends it to the followers; the round's
 * replies wait until the log says the entry is committed, while the writer goes on with the
 * next round. The writer of a follower replica decides nothing: it applies its leader's
 * entries, handed to it with {@link #submit}.
 *
 * <p>Threads: the request methods ({@link #checkAndInsert} to {@link #extendLease}) and
 * {@link #submit} may be called from any thread; everything else, the store included, runs on
 * the writer thread.
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
      long leaseMillis, List<byte[]> perId, Caller caller, CompletableFuture<Object> future)
      implements Task {

    byte[] perIdAt(int i) {
      return perId.isEmpty() ? NO_BYTES : perId.get(i);
    }
  }

  static final byte[] NO_BYTES = new byte[0];

  private record StoreTask(Function<ShardStore, ?> action, CompletableFuture<Object> future)
      implements Task {}

  private record Stop() implements Task {}

  /** Writer thread only; null while a snapshot replaces the shard's data. */
  private ShardStore store;
  /** The store's identity, for any thread. */
  private volatile String storeId;
  private final int shardId;
  private final BucketGrid grid;
  private final ShardLog log;
  private final InstantSource clock;
  private final int queueCapacity;
  private final BlockingQueue<Task> queue;
  private final Thread thread;
  private final AtomicReference<State> state = new AtomicReference<>(State.CREATED);
  private final Logger logger;
  private volatile boolean lastWriteFailed;
  /** Rounds that failed as {@link #lastWriteFailed} records; written by the writer thread. */
  private final AtomicLong writeErrors = new AtomicLong();
  /** Writer thread only: the newest time seen, so that the clock never runs backwards here. */
  private long lastNowMillis;

  /**
   * @param log the shard replica's log: asked before every round whether this replica leads,
   *     told of every entry, and the one that says when a round's replies may go
   */
  public ShardWriter(ShardStore store, BucketGrid grid, InstantSource clock, int queueCapacity,
      ShardLog log) {
    this(store, store.shardId(), grid, clock, queueCapacity, log);
  }

  /**
   * A writer of a shard that has no store yet: a snapshot install a restart interrupted waits
   * to be resumed. It serves nothing (as after {@link #detachStore}) until {@link #attachStore}.
   */
  public static ShardWriter awaitingInstall(int shard, BucketGrid grid, InstantSource clock,
      int queueCapacity, ShardLog log) {
    return new ShardWriter(null, shard, grid, clock, queueCapacity, log);
  }

  private ShardWriter(ShardStore store, int shard, BucketGrid grid, InstantSource clock,
      int queueCapacity, ShardLog log) {
    this.store = store;
    this.storeId = store == null ? "" : store.storeId();
    this.shardId = shard;
    this.grid = grid;
    this.log = log;
    this.clock = clock;
    this.queueCapacity = queueCapacity;
    this.queue = new ArrayBlockingQueue<>(queueCapacity + 1);
    String name = String.format("shard-%04d-writer", shardId);
    this.thread = Thread.ofPlatform().name(name).unstarted(this::run);
    this.logger = LoggerFactory.getLogger(ShardWriter.class.getName() + ".shard-" + shardId);
  }

  public int shardId() {
    return shardId;
  }

  /**
   * The identity of the store this writer owns (see {@link ShardStore#storeId}), or "" while a
   * snapshot replaces it.
   */
  public String storeId() {
    return storeId;
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

  /** Rounds that failed on a storage error since this writer was made (see {@link #isHealthy}). */
  public long writeErrors() {
    return writeErrors.get();
  }

  /**
   * Decides each digest and records the new ones, in order: one result per digest.
   *
   * @param windowMillis the namespace's window
   * @param token the attempt token, or "" for none
   * @param leaseMillis the lease new ids get, or 0 to record them as done
   * @param fingerprints one per digest (empty arrays for none), or an empty list
   * @param caller asked before the round decides; a caller that gave up is skipped
   */
  public CompletableFuture<IdResult[]> checkAndInsert(
      String namespace, long windowMillis, List<byte[]> digests, String token, long leaseMillis,
      List<byte[]> fingerprints, Caller caller) {
    return enqueueData(Kind.CHECK_AND_INSERT, namespace, windowMillis, digests, token,
        leaseMillis, fingerprints, caller);
  }

  /** Reports what {@link #checkAndInsert} without a token would answer, recording nothing. */
  public CompletableFuture<IdResult[]> check(
      String namespace, long windowMillis, List<byte[]> digests, Caller caller) {
    return enqueueData(Kind.CHECK, namespace, windowMillis, digests, "", 0, List.of(), caller);
  }

  /** Removes every record of each digest; true where a record within the window was held. */
  public CompletableFuture<boolean[]> forget(
      String namespace, long windowMillis, List<byte[]> digests, Caller caller) {
    return enqueueData(Kind.FORGET, namespace, windowMillis, digests, "", 0, List.of(), caller);
  }

  /**
   * Marks ids leased to {@code token} as done, storing a result per id.
   *
   * @param results one per digest, or an empty list to store none
   */
  public CompletableFuture<LeaseOpResult[]> commit(
      String namespace, long windowMillis, List<byte[]> digests, String token,
      List<byte[]> results, Caller caller) {
    return enqueueData(Kind.COMMIT, namespace, windowMillis, digests, token, 0, results, caller);
  }

  /** Removes ids leased to {@code token}, so that a retry can do the work. */
  public CompletableFuture<LeaseOpResult[]> release(
      String namespace, long windowMillis, List<byte[]> digests, String token, Caller caller) {
    return enqueueData(
        Kind.RELEASE, namespace, windowMillis, digests, token, 0, List.of(), caller);
  }

  /** Moves the end of leases held by {@code token} to now plus {@code leaseMillis}. */
  public CompletableFuture<LeaseOpResult[]> extendLease(
      String namespace, long windowMillis, List<byte[]> digests, String token, long leaseMillis,
      Caller caller) {
    return enqueueData(Kind.EXTEND_LEASE, namespace, windowMillis, digests, token, leaseMillis,
        List.of(), caller);
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
      long leaseMillis, List<byte[]> perId, Caller caller) {
    CompletableFuture<Object> future = new CompletableFuture<>();
    enqueue(new DataTask(
        kind, namespace, windowMillis, digests, token, leaseMillis, perId, caller, future), future);
    return (CompletableFuture<T>) (CompletableFuture<?>) future;
  }

  private void enqueue(Task task, CompletableFuture<Object> future) {
    if (state.get() != State.RUNNING) {
      future.completeExceptionally(notServing());
      return;
    }
    // One slot is kept free for the stop marker.
    if (queue.size() >= queueCapacity || !queue.offer(task)) {
      future.completeExceptionally(new ShardOverloadedException(shardId(), queueCapacity));
      return;
    }
    // close() may have begun between the state check and the offer, and the task may then sit
    // behind the stop marker where no round takes it. If it is still queued, take it back and
    // fail it; if it is gone, the writer took it and completes it.
    if (state.get() != State.RUNNING && queue.remove(task)) {
      future.completeExceptionally(notServing());
    }
  }

  private StorageException notServing() {
    return new StorageException("shard " + shardId() + " is not serving (" + state.get() + ")");
  }

  private void run() {
    List<Task> round = new ArrayList<>();
    try {
      if (store != null) {
        log.opened(store);
      }
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
    } catch (RuntimeException | Error e) {
      logger.error("shard {}: writer thread failed", shardId(), e);
    } finally {
      // Only this thread ever touches the store, so only this thread closes it: no round can
      // run on a closed store, however close() was called or interrupted.
      state.set(State.STOPPING);
      failAll(round, new StorageException("shard " + shardId() + " writer stopped"));
      List<Task> leftover = new ArrayList<>();
      queue.drainTo(leftover);
      failAll(leftover, new StorageException("shard " + shardId() + " closed"));
      try {
        if (store != null) {
          store.close();
        }
      } finally {
        state.set(State.CLOSED);
      }
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

  private void decide(List<DataTask> all) {
    List<DataTask> tasks = withoutAbandoned(all);
    if (tasks.isEmpty()) {
      return;
    }
    long epoch = log.leaderEpoch();
    if (epoch < 0 || store == null) {
      fail(tasks, new ShardFencedException(shardId(), false));
      return;
    }
    Object[] results = new Object[tasks.size()];
    long readPoint;
    try {
      Round round = new Round(nowMillis(), grid);

      long since = Long.MAX_VALUE;
      List<byte[]> digests = new ArrayList<>();
      for (DataTask task : tasks) {
        // Forget removes records past the window too, so it looks in every bucket.
        since = Math.min(since,
            task.kind() == Kind.FORGET ? Long.MIN_VALUE : round.now - task.windowMillis());
        digests.addAll(task.digests());
      }
      Holding[][] held = store.lookup(digests, since);

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
            case CHECK_AND_INSERT -> answers[i] = RecordRules.checkAndInsert(
                round, task, task.namespace(), task.token(), task.leaseMillis(), task.perIdAt(i),
                digest, key, visible);
            case CHECK -> answers[i] = RecordRules.check(round.now, visible);
            case FORGET -> {
              removed[i] = visible != null;
              round.removeAll(digest, task.namespace(), key);
            }
            case COMMIT -> answers[i] = RecordRules.commit(
                round, task.namespace(), task.token(), task.perIdAt(i), digest, key, visible);
            case RELEASE -> answers[i] = RecordRules.release(
                round, task.namespace(), task.token(), digest, key, visible);
            case EXTEND_LEASE -> answers[i] = RecordRules.extend(
                round, task.namespace(), task.token(), task.leaseMillis(), digest, key, visible);
          }
        }
        results[t] = task.kind() == Kind.FORGET ? removed : answers;
      }
      if (!round.write.isEmpty()) {
        appendEntry(epoch, store.prepare(round.write, epoch, store.position().seq() + 1));
      } else if (log.readsNeedCommit()) {
        appendEntry(epoch, new LogEntry(epoch, store.position().seq() + 1, List.of()));
      }
      // The round's answers rest on every entry up to here, its own included: they go only once
      // all of those are committed, so no answer (a DUPLICATE included) rests on an entry that
      // a failover could still discard.
      readPoint = store.position().seq();
      lastWriteFailed = false;
    } catch (RuntimeException e) {
      lastWriteFailed = true;
      writeErrors.incrementAndGet();
      logger.error("shard {}: round of {} requests failed: {}", shardId(), tasks.size(),
          e.toString());
      fail(tasks, e instanceof StorageException se ? se
          : new StorageException("shard " + shardId() + ": round failed: " + e, e));
      return;
    }
    log.whenCommitted(readPoint, () -> {
      for (int t = 0; t < tasks.size(); t++) {
        tasks.get(t).future().complete(results[t]);
      }
    }, failure -> fail(tasks, failure));
  }

  /** Applies an entry to the local store and hands it to the log. Writer thread. */
  private void appendEntry(long epoch, LogEntry entry) {
    store.apply(entry);
    log.appended(entry);
  }

  /**
   * Runs a maintenance step on the writer thread if this replica leads: {@code decide} returns
   * the ops it wants made (bucket creations and drops, the budget horizon), and they become
   * the shard's next entry, so that every replica makes them at the same point of the log.
   * A replica that does not lead does nothing (its leader decides for it).
   *
   * @return whether this replica led and made the ops
   */
  public CompletableFuture<Boolean> maintain(Function<ShardStore, List<LogEntry.Op>> decide) {
    return submit(s -> {
      long epoch = log.leaderEpoch();
      if (epoch < 0 || s == null) {
        return false;
      }
      List<LogEntry.Op> ops = decide.apply(s);
      if (!ops.isEmpty()) {
        appendEntry(epoch, new LogEntry(epoch, s.position().seq() + 1, ops));
      }
      return true;
    });
  }

  /**
   * Closes the store (its data about to be replaced by a snapshot); until {@link #attachStore},
   * rounds fail as not served and store tasks get null.
   */
  public CompletableFuture<Void> detachStore() {
    return submit(old -> {
      if (old != null) {
        old.close();
        store = null;
        storeId = "";
      }
      return null;
    });
  }

  /** Serves from {@code next}, a store opened after a snapshot install (or a failed one). */
  public CompletableFuture<Void> attachStore(ShardStore next) {
    return submit(old -> {
      if (old != null) {
        old.close();
      }
      store = next;
      storeId = next.storeId();
      log.opened(next);
      return null;
    });
  }

  /** The tasks whose callers still wait; the others are failed here, with nothing recorded. */
  private List<DataTask> withoutAbandoned(List<DataTask> tasks) {
    List<DataTask> waiting = new ArrayList<>(tasks.size());
    for (DataTask task : tasks) {
      if (task.caller().hasGivenUp()) {
        task.future().completeExceptionally(new CallerGaveUpException(shardId()));
      } else {
        waiting.add(task);
      }
    }
    return waiting;
  }

  private static void fail(List<DataTask> tasks, RuntimeException failure) {
    tasks.forEach(task -> task.future().completeExceptionally(failure));
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
   * Stops taking work, lets the writer finish what is queued, and returns once the writer has
   * closed the store. Safe to call twice and from several threads; every caller waits. An
   * interrupt does not cut the wait short (the store must not outlive its caller's belief
   * that it is closed); it is restored on return.
   */
  @Override
  public void close() {
    if (state.compareAndSet(State.CREATED, State.CLOSED)) {
      if (store != null) {
        store.close();
      }
      return;
    }
    boolean interrupted = false;
    if (state.compareAndSet(State.RUNNING, State.STOPPING)) {
      // The queue keeps one slot free for this marker, so put never blocks for long.
      while (true) {
        try {
          queue.put(new Stop());
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    while (thread.isAlive()) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
