package dev.dedupe.client;

import dev.dedupe.client.Item.Entry;
import dev.dedupe.client.Item.LeaseItem;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * The dedupe Java client: asks a dedupe service whether message ids are new, batching the ids
 * of concurrent callers, retrying safely, and sending each id straight to the node that owns
 * it. Thread-safe; make one per process and share it.
 *
 * <pre>{@code
 * try (DedupeClient client = DedupeClient.builder()
 *     .target("dedupe.internal:50051")
 *     .requestDeadline(Duration.ofSeconds(2))
 *     .build()) {
 *
 *   // Record-then-act: exactly one caller gets NEW for an id.
 *   Decision d = client.checkAndInsert("payments.charge", orderId);
 *   if (d.isNew()) charge(order);
 *
 *   // Or let the client hold a lease around the side effect and store its result.
 *   OnceOutcome outcome = client.once("emails", messageId, () -> mailer.send(mail));
 * }
 * }</pre>
 *
 * <h2>Batching</h2>
 * {@code checkAndInsert} ids from all threads are gathered per (namespace, lease) into requests
 * of up to {@link Builder#maxBatchIds} ids; each caller's future gets the results of its own
 * ids. By default the batching is natural, with no timer: a batch is sent at once while fewer
 * than {@link Builder#maxInFlightBatches} batches of its namespace and lease are in flight,
 * and otherwise gathers the ids of the callers who come meanwhile, and is sent the moment one
 * of those batches is answered (or when it is full). A lone caller waits for nothing; under
 * concurrency a batch holds about as many ids as there are waiting callers, so many calls share
 * one RPC and, on each shard the batch touches, one trip through the shard's write queue and
 * one fsync of its write-ahead log. A positive {@link Builder#linger} instead holds each batch
 * up to that long for company (the behaviour before natural batching, when the default was
 * 5 ms), for fewer, larger requests at the price of latency. Set maxBatchIds to one to send
 * every call on its own. Callers with different fingerprints share batches; callers with
 * different leases do not. {@code check}, {@code forget} and the lease operations are not
 * batched across callers.
 *
 * <h2>Memory</h2>
 * At most {@link Builder#maxPendingIds} checkAndInsert ids wait in the client at a time (in a
 * batch, in flight or between retries). A call that would exceed it blocks for up to
 * {@link Builder#maxBlock}, then fails with {@link PendingLimitExceededException} without
 * sending anything. Nothing else grows with load.
 *
 * <h2>Retries and attempt tokens</h2>
 * UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED are retried with exponential backoff
 * and jitter, each attempt with the full {@link Builder#requestDeadline}, until the call has
 * made {@link Builder#maxAttempts} attempts or its {@link Builder#retryBudget} (counted from
 * its first attempt) is spent, whichever comes first. The budget is sized for the cluster's
 * own changes: a leadership handover, a rolling restart or a replica move makes a shard refuse
 * calls for a moment, and a call with the default settings rides that out instead of failing. Every batch carries a fresh random attempt token, reused on
 * each of its retries, so an id the lost first attempt recorded comes back NEW (with
 * {@link Decision#replay()} set), never DUPLICATE: a lost reply never costs the caller its id.
 * When every attempt fails, the ids may still have been recorded; the {@link DedupeException}
 * carries the token(s) they went out with ({@link DedupeException#attemptToken()}, per id
 * {@link DedupeException#attemptTokens()}), and a later call with
 * {@link InsertOptions#withAttemptToken} hears NEW (replay) for the ids the failed call
 * recorded, so the caller that gave up can still do their side effect. Other failures (INVALID_ARGUMENT, FAILED_PRECONDITION, ...) are never retried. If a batch
 * that mixes several callers' ids is refused with INVALID_ARGUMENT, each caller's ids are sent
 * once more on their own, so that one caller's bad id fails only that caller.
 *
 * <h2>Routing</h2>
 * On first use the client asks a target for the shard map ({@code GetShardMap}; from any
 * target or node it has learned of, moving on quickly from one that does not answer), hashes each
 * id to its shard with {@link dev.dedupe.contract.ShardHash}, sends each node's ids to that
 * node in parallel, and merges the answers back in request order. In a cluster, a node that
 * does not own an id answers UNAVAILABLE for that id alone, naming the owner: the client
 * re-sends the id there at once (with the same attempt token) and remembers the owner. A call
 * that fails with UNAVAILABLE, or an id with no owner named, makes the client fetch the map
 * again before its backoff and retry. Each of these counts as an attempt. When a map or an
 * owner hint names a node whose connection is waiting out gRPC's reconnect backoff (the node
 * was down), the client reconnects at once, so a node that is back gets its calls again
 * without delay. A single-node deployment is one node that owns every shard.
 *
 * <h2>Threads</h2>
 * Blocking methods wait on the calling thread. Futures returned by the {@code *Async} methods
 * are completed on gRPC callback threads, or on {@link Builder#executor} if one is set: do not
 * block in stages chained to them without an executor of your own ({@code thenApplyAsync}).
 * The client owns one daemon timer thread (linger expiry, retry backoff, lease renewal), and
 * the callers' threads do the rest; a batch that waited for an in-flight one is sent on the
 * thread that handles that one's reply. {@link #once} runs its action on the calling thread.
 */
public final class DedupeClient implements AutoCloseable {

  private enum State { OPEN, CLOSING, CLOSED }

  private static final AtomicInteger CLIENTS = new AtomicInteger();

  private final Settings settings;
  private final AtomicReference<State> state = new AtomicReference<>(State.OPEN);
  private final ScheduledThreadPoolExecutor timer;
  private final OnceRunner onceRunner;
  private final OnceEachRunner onceEachRunner;
  private final ChannelPool channels;
  private final ShardRouter router;
  private final Dispatcher dispatcher;
  private final Accumulator accumulator;
  /** Room for ids waiting in the client; fair, so a big call is not starved by small ones. */
  private final Semaphore pendingRoom;
  private final InFlight inFlight = new InFlight();

  private DedupeClient(Settings settings) {
    this.settings = settings;
    int n = CLIENTS.incrementAndGet();
    this.timer = new ScheduledThreadPoolExecutor(1,
        Thread.ofPlatform().name("dedupe-client-" + n + "-timer").daemon(true).factory());
    timer.setRemoveOnCancelPolicy(true);
    this.channels = new ChannelPool(settings.channelFactory, settings.interceptors,
        settings.requestDeadline, settings.executor);
    this.router = new ShardRouter(settings.targets, channels, timer);
    this.dispatcher = new Dispatcher(router, channels, settings.retry, settings.maxBatchIds,
        timer, () -> state.get() == State.CLOSED);
    this.accumulator = new Accumulator(settings.maxBatchIds, settings.linger,
        settings.maxInFlightBatches, timer, this::sendBatch);
    this.onceRunner = new OnceRunner(this, timer, settings.defaultLease);
    this.onceEachRunner = new OnceEachRunner(this, timer);
    this.pendingRoom = new Semaphore(settings.maxPendingIds, true);
  }

  /** A builder; {@link Builder#target} (or {@link Builder#targets}) is the one required setting. */
  public static Builder builder() {
    return new Builder();
  }

  // ---------------------------------------------------------------------------------------
  // CheckAndInsert

  /**
   * Decides one id and records it if new, without a lease or fingerprint. Blocks until the
   * batch holding the id is answered.
   *
   * <pre>{@code
   * if (client.checkAndInsert("orders", orderId).isNew()) fulfil(order);
   * }</pre>
   *
   * @throws IllegalArgumentException if the namespace or id is malformed (empty, or a namespace
   *     character outside [A-Za-z0-9._:/-])
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws PendingLimitExceededException if no room came free within maxBlock
   * @throws DedupeException if the server refused the id or did not answer within the retry
   *     policy (its {@link DedupeException#code() code} says which; the id may have been
   *     recorded, so retry with its {@link DedupeException#attemptToken() attemptToken}); also
   *     when the calling thread is interrupted while waiting (code CANCELLED; the id may still
   *     have been recorded, and the exception names no token: choose one with
   *     {@link InsertOptions#withAttemptToken} if you may give up early)
   */
  public Decision checkAndInsert(String namespace, String messageId) {
    return await(checkAndInsertAsync(namespace, messageId, InsertOptions.none()));
  }

  /**
   * Decides one id and records it if new, with a fingerprint and/or a lease.
   *
   * <pre>{@code
   * Decision d = client.checkAndInsert("webhooks", eventId,
   *     InsertOptions.none().withLease(Duration.ofSeconds(30)).withFingerprint(sha256(body)));
   * }</pre>
   *
   * @throws IllegalArgumentException if the namespace or id is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws PendingLimitExceededException if no room came free within maxBlock
   * @throws DedupeException if the server refused the id or did not answer within the retry
   *     policy, or the thread was interrupted while waiting (CANCELLED)
   */
  public Decision checkAndInsert(String namespace, String messageId, InsertOptions options) {
    return await(checkAndInsertAsync(namespace, messageId, options));
  }

  /**
   * Decides many ids; one decision per id, in request order. An id repeated in the list is
   * NEW at most once.
   *
   * <pre>{@code
   * List<Decision> ds = client.checkAndInsert("orders", List.of("o-1", "o-2"));
   * }</pre>
   *
   * @throws IllegalArgumentException if the namespace or an id is malformed, or the list holds
   *     more ids than maxPendingIds
   * @throws NullPointerException if an argument or an id is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws PendingLimitExceededException if no room came free within maxBlock
   * @throws PartialBatchException if some ids were decided and others failed; it holds the
   *     decisions that were made
   * @throws DedupeException if every id failed, or the thread was interrupted (CANCELLED)
   */
  public List<Decision> checkAndInsert(String namespace, List<String> messageIds) {
    return await(checkAndInsertAsync(namespace, messageIds, InsertOptions.none()));
  }

  /**
   * Decides many ids with one set of options (the fingerprint applies to each id).
   *
   * @throws IllegalArgumentException if the namespace or an id is malformed, or the list holds
   *     more ids than maxPendingIds
   * @throws NullPointerException if an argument or an id is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws PendingLimitExceededException if no room came free within maxBlock
   * @throws PartialBatchException if some ids were decided and others failed
   * @throws DedupeException if every id failed, or the thread was interrupted (CANCELLED)
   */
  public List<Decision> checkAndInsert(
      String namespace, List<String> messageIds, InsertOptions options) {
    return await(checkAndInsertAsync(namespace, messageIds, options));
  }

  /**
   * Like {@link #checkAndInsert(String, String)}, without waiting. The future fails with a
   * {@link DedupeException} when the server refused the id or did not answer.
   *
   * <pre>{@code
   * client.checkAndInsertAsync("orders", orderId)
   *     .thenAcceptAsync(d -> { if (d.isNew()) fulfil(order); }, workers);
   * }</pre>
   *
   * @throws IllegalArgumentException if the namespace or id is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws PendingLimitExceededException if no room came free within maxBlock (this method
   *     blocks up to maxBlock for room, like Kafka's {@code send})
   */
  public CompletableFuture<Decision> checkAndInsertAsync(String namespace, String messageId) {
    return checkAndInsertAsync(namespace, messageId, InsertOptions.none());
  }

  /**
   * Like {@link #checkAndInsert(String, String, InsertOptions)}, without waiting.
   *
   * @throws IllegalArgumentException if the namespace or id is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws PendingLimitExceededException if no room came free within maxBlock
   */
  public CompletableFuture<Decision> checkAndInsertAsync(
      String namespace, String messageId, InsertOptions options) {
    return submit(namespace, List.of(Validation.id(messageId, 0)), null, options).get(0).result;
  }

  /**
   * Like {@link #checkAndInsert(String, List)}, without waiting. The future fails with
   * {@link PartialBatchException} when only some ids failed.
   *
   * @throws IllegalArgumentException if the namespace or an id is malformed, or the list holds
   *     more ids than maxPendingIds
   * @throws NullPointerException if an argument or an id is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws PendingLimitExceededException if no room came free within maxBlock
   */
  public CompletableFuture<List<Decision>> checkAndInsertAsync(
      String namespace, List<String> messageIds) {
    return checkAndInsertAsync(namespace, messageIds, InsertOptions.none());
  }

  /**
   * Like {@link #checkAndInsert(String, List, InsertOptions)}, without waiting.
   *
   * @throws IllegalArgumentException if the namespace or an id is malformed, or the list holds
   *     more ids than maxPendingIds
   * @throws NullPointerException if an argument or an id is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws PendingLimitExceededException if no room came free within maxBlock
   */
  public CompletableFuture<List<Decision>> checkAndInsertAsync(
      String namespace, List<String> messageIds, InsertOptions options) {
    List<String> ids = Validation.ids(messageIds);
    if (ids.isEmpty()) {
      Validation.namespace(namespace);
      return CompletableFuture.completedFuture(List.of());
    }
    return collect("CheckAndInsert", namespace, submit(namespace, ids, null, options));
  }

  /**
   * One logical CheckAndInsert with a fingerprint per id ({@code fingerprints} in the order of
   * {@code ids}; a null entry means none), for {@link #onceEach}. The options' own fingerprint
   * is not used.
   */
  CompletableFuture<List<Decision>> checkAndInsertEachAsync(String namespace, List<String> ids,
      List<byte[]> fingerprints, InsertOptions options) {
    if (ids.isEmpty()) {
      return CompletableFuture.completedFuture(List.of());
    }
    return collect("CheckAndInsert", namespace, submit(namespace, ids, fingerprints, options));
  }

  private List<Entry> submit(String namespace, List<String> ids, List<byte[]> fingerprints,
      InsertOptions options) {
    Validation.namespace(namespace);
    Objects.requireNonNull(options, "options");
    requireState(State.OPEN);
    int n = ids.size();
    if (n > settings.maxPendingIds) {
      throw new IllegalArgumentException("a call of " + n + " ids can never fit: maxPendingIds is "
          + settings.maxPendingIds);
    }
    acquireRoom(n);
    Object caller = new Object();
    byte[] fingerprint = options.fingerprintUnsafe();
    List<Entry> entries = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      String id = ids.get(i);
      byte[] own = fingerprints == null ? fingerprint : fingerprints.get(i);
      Entry entry = new Entry(id, own == null ? new byte[0] : own, caller);
      entry.result.whenComplete((d, t) -> pendingRoom.release());
      entries.add(entry);
    }
    track(CompletableFuture.allOf(entries.stream().map(e -> e.result).toArray(CompletableFuture[]::new)));
    try {
      accumulator.append(
          new Accumulator.Key(namespace, options.lease(), options.attemptToken()), entries);
    } catch (RuntimeException e) {
      // Never strand an entry: failing it gives its room back and ends its tracking.
      DedupeException failure = new DedupeException("CheckAndInsert in namespace '" + namespace
          + "' failed in the client: " + e + "; nothing was sent", Status.INTERNAL.withCause(e), e);
      entries.forEach(entry -> entry.result.completeExceptionally(failure));
      throw failure;
    }
    return entries;
  }

  private void acquireRoom(int n) {
    boolean got;
    try {
      got = settings.maxBlock.isZero()
          ? pendingRoom.tryAcquire(n)
          : pendingRoom.tryAcquire(n, settings.maxBlock.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DedupeException("interrupted while waiting for room for " + n + " id(s); nothing"
          + " was sent", Status.CANCELLED.withCause(e), e);
    }
    if (!got) {
      throw new PendingLimitExceededException(n, settings.maxPendingIds, settings.maxBlock);
    }
  }

  /**
   * Accumulator callback: a batch closed; give it a token (the callers' own, or a fresh one)
   * and send it. Never throws; the future completes when the first attempt is over.
   */
  private CompletableFuture<?> sendBatch(Accumulator.Key key, List<Entry> entries) {
    boolean callers = key.attemptToken() != null;
    Rpcs.InsertCall call = new Rpcs.InsertCall(dispatcher, key.namespace(), key.lease(),
        callers ? key.attemptToken() : Rpcs.newToken(), callers, false);
    try {
      return dispatcher.dispatch(key.namespace(), entries, call);
    } catch (RuntimeException e) {
      call.fail(entries, new DedupeException("CheckAndInsert in namespace '" + key.namespace()
          + "' failed in the client: " + e, Status.INTERNAL.withCause(e), e,
          List.of(call.attemptToken())));
      return CompletableFuture.completedFuture(null);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Check and Forget

  /**
   * Reports what checkAndInsert would answer for one id now, recording nothing. For
   * diagnostics; do not use it as the first half of check-then-insert.
   *
   * @throws IllegalArgumentException if the namespace or id is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws DedupeException if the call failed, or the thread was interrupted (CANCELLED)
   */
  public Decision check(String namespace, String messageId) {
    return await(checkAsync(namespace, messageId));
  }

  /**
   * Reports what checkAndInsert would answer for each id now; one decision per id, in order.
   *
   * @throws IllegalArgumentException if the namespace or an id is malformed
   * @throws NullPointerException if an argument or an id is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws PartialBatchException if some ids were answered and others failed
   * @throws DedupeException if every id failed, or the thread was interrupted (CANCELLED)
   */
  public List<Decision> check(String namespace, List<String> messageIds) {
    return await(checkAsync(namespace, messageIds));
  }

  /**
   * Like {@link #check(String, String)}, without waiting.
   *
   * @throws IllegalArgumentException if the namespace or id is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed or closing
   */
  public CompletableFuture<Decision> checkAsync(String namespace, String messageId) {
    return direct(namespace, List.of(Validation.id(messageId, 0)), Item<Decision>::new,
        new Rpcs.CheckCall(namespace), State.OPEN).get(0).result;
  }

  /**
   * Like {@link #check(String, List)}, without waiting.
   *
   * @throws IllegalArgumentException if the namespace or an id is malformed
   * @throws NullPointerException if an argument or an id is null
   * @throws IllegalStateException if the client is closed or closing
   */
  public CompletableFuture<List<Decision>> checkAsync(String namespace, List<String> messageIds) {
    List<String> ids = Validation.ids(messageIds);
    return collect("Check", namespace,
        direct(namespace, ids, Item<Decision>::new, new Rpcs.CheckCall(namespace), State.OPEN));
  }

  /**
   * Removes one id, so that the next checkAndInsert of it is NEW. Returns whether it was held.
   * Retried like every call; a retry after a lost reply answers false, since the first attempt
   * already removed it.
   *
   * @throws IllegalArgumentException if the namespace or id is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws DedupeException if the call failed, or the thread was interrupted (CANCELLED)
   */
  public boolean forget(String namespace, String messageId) {
    return await(forgetAsync(namespace, messageId));
  }

  /**
   * Removes ids; for each, in order, whether it was held.
   *
   * @throws IllegalArgumentException if the namespace or an id is malformed
   * @throws NullPointerException if an argument or an id is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws DedupeException if any id failed (forgetting is idempotent: call again), or the
   *     thread was interrupted (CANCELLED)
   */
  public List<Boolean> forget(String namespace, List<String> messageIds) {
    return await(forgetAsync(namespace, messageIds));
  }

  /**
   * Like {@link #forget(String, String)}, without waiting.
   *
   * @throws IllegalArgumentException if the namespace or id is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed or closing
   */
  public CompletableFuture<Boolean> forgetAsync(String namespace, String messageId) {
    return direct(namespace, List.of(Validation.id(messageId, 0)), Item<Boolean>::new,
        new Rpcs.ForgetCall(namespace), State.OPEN).get(0).result;
  }

  /**
   * Like {@link #forget(String, List)}, without waiting.
   *
   * @throws IllegalArgumentException if the namespace or an id is malformed
   * @throws NullPointerException if an argument or an id is null
   * @throws IllegalStateException if the client is closed or closing
   */
  public CompletableFuture<List<Boolean>> forgetAsync(String namespace, List<String> messageIds) {
    List<Item<Boolean>> items = direct(namespace, Validation.ids(messageIds), Item<Boolean>::new,
        new Rpcs.ForgetCall(namespace), State.OPEN);
    return CompletableFuture.allOf(items.stream().map(i -> i.result).toArray(CompletableFuture[]::new))
        .thenApply(done -> items.stream().map(i -> i.result.join()).toList());
  }

  // ---------------------------------------------------------------------------------------
  // Leases

  /**
   * Marks a leased id done and stores {@code result}; later duplicates get it back in
   * {@link Decision#result()}. Only the token that holds the lease may commit. Safe to retry
   * (the server answers a repeated Commit by the holder with OK and keeps the first result).
   * Allowed while the client is closing, to finish work already started.
   *
   * <pre>{@code
   * Decision d = client.checkAndInsert("webhooks", id, InsertOptions.none().withLease(Duration.ofSeconds(30)));
   * if (d.isNew()) {
   *   byte[] response = post(webhook);
   *   client.commit("webhooks", id, d.attemptToken(), response);
   * }
   * }</pre>
   *
   * @param result at most 4 KiB with the server's default limits; empty to store nothing
   * @throws LeaseLostException if the token no longer holds the lease (it ran out and another
   *     attempt took the id, or the id was released or forgotten)
   * @throws IllegalArgumentException if the namespace, id or token is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed
   * @throws DedupeException if the call failed (INVALID_ARGUMENT for a result over the server's
   *     limit), or the thread was interrupted (CANCELLED)
   */
  public void commit(String namespace, String messageId, String attemptToken, byte[] result) {
    await(commitAsync(namespace, messageId, attemptToken, result));
  }

  /**
   * Like {@link #commit}, without waiting; the future fails with {@link LeaseLostException} or
   * {@link DedupeException}.
   *
   * @throws IllegalArgumentException if the namespace, id or token is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed
   */
  public CompletableFuture<Void> commitAsync(
      String namespace, String messageId, String attemptToken, byte[] result) {
    Objects.requireNonNull(result, "result");
    return lease(Rpcs.LeaseOp.COMMIT, namespace, messageId, attemptToken, result.clone(), null)
        .thenApply(end -> null);
  }

  /**
   * Gives a leased id up, so that a retry or a redelivery gets NEW and can do the work (the
   * side effect failed). Safe to retry. Allowed while the client is closing.
   *
   * @throws LeaseLostException if the token no longer holds the lease, or the id is committed
   * @throws IllegalArgumentException if the namespace, id or token is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed
   * @throws DedupeException if the call failed, or the thread was interrupted (CANCELLED)
   */
  public void release(String namespace, String messageId, String attemptToken) {
    await(releaseAsync(namespace, messageId, attemptToken));
  }

  /**
   * Like {@link #release}, without waiting.
   *
   * @throws IllegalArgumentException if the namespace, id or token is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed
   */
  public CompletableFuture<Void> releaseAsync(
      String namespace, String messageId, String attemptToken) {
    return lease(Rpcs.LeaseOp.RELEASE, namespace, messageId, attemptToken, new byte[0], null)
        .thenApply(end -> null);
  }

  /**
   * Moves the end of a lease to now plus {@code lease}, for long side effects, and returns the
   * new end (server clock). Allowed while the client is closing.
   *
   * @param lease more than zero; at most 1 hour with the server's default limits
   * @throws LeaseLostException if the token no longer holds the lease, or the id is committed
   * @throws IllegalArgumentException if the namespace, id or token is malformed, or the lease
   *     is not positive
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed
   * @throws DedupeException if the call failed, or the thread was interrupted (CANCELLED)
   */
  public Instant extendLease(
      String namespace, String messageId, String attemptToken, Duration lease) {
    return await(extendLeaseAsync(namespace, messageId, attemptToken, lease));
  }

  /**
   * Like {@link #extendLease}, without waiting.
   *
   * @throws IllegalArgumentException if the namespace, id or token is malformed, or the lease
   *     is not positive
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed
   */
  public CompletableFuture<Instant> extendLeaseAsync(
      String namespace, String messageId, String attemptToken, Duration lease) {
    Validation.positive("lease", lease);
    return lease(Rpcs.LeaseOp.EXTEND_LEASE, namespace, messageId, attemptToken, new byte[0], lease);
  }

  private CompletableFuture<Instant> lease(Rpcs.LeaseOp op, String namespace, String messageId,
      String attemptToken, byte[] result, Duration lease) {
    String id = Validation.id(messageId, 0);
    Validation.token(attemptToken);
    return direct(namespace, List.of(id), i -> new LeaseItem(i, result),
        new Rpcs.LeaseCall(op, namespace, attemptToken, lease), State.CLOSING).get(0).result;
  }

  // ---------------------------------------------------------------------------------------
  // once()

  /**
   * Runs {@code action} once per id across every caller, with the builder's default lease:
   * checkAndInsert with a lease; on NEW runs the action on this thread, commits what it
   * returns and answers {@link OnceOutcome.Executed}; if it ran before, answers
   * {@link OnceOutcome.AlreadyDone} with the stored result; if another caller holds the lease,
   * {@link OnceOutcome.InProgressElsewhere}; if the id was recorded for another payload,
   * {@link OnceOutcome.Conflict}.
   *
   * <p>While the action runs, the client extends the lease every half lease, so a long action
   * keeps it. If the process dies mid-action the lease runs out and the next caller runs the
   * action: that is the point of a lease (at-least-once, made exactly-once when the side effect
   * is idempotent or completes before the lease ends). The action's result must fit the
   * server's result limit (4 KiB by default).
   *
   * <pre>{@code
   * OnceOutcome outcome = client.once("payments.charge", orderId,
   *     () -> gateway.charge(order).toByteArray());
   * }</pre>
   *
   * @param action the side effect; returns the bytes to store (null for none)
   * @throws OnceActionException if the action threw; the lease was released first
   * @throws LeaseLostException if the action ran but its Commit found the lease gone (it ran
   *     out, and another caller took the id, and may run the action as well)
   * @throws IllegalArgumentException if the namespace or id is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws PendingLimitExceededException if no room came free within maxBlock
   * @throws DedupeException if a call to the service failed (for the Commit: the action ran,
   *     and its lease will run out, so a redelivery runs it again), or the thread was
   *     interrupted while waiting (CANCELLED)
   */
  public OnceOutcome once(String namespace, String messageId, Callable<byte[]> action) {
    return once(namespace, messageId, InsertOptions.none(), action);
  }

  /**
   * Like {@link #once(String, String, Callable)}, with a fingerprint and/or a lease of your own
   * (without one, the builder's {@link Builder#defaultLease} applies).
   *
   * @throws OnceActionException if the action threw; the lease was released first
   * @throws LeaseLostException if the action ran but its Commit found the lease gone
   * @throws IllegalArgumentException if the namespace or id is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed or closing
   * @throws PendingLimitExceededException if no room came free within maxBlock
   * @throws DedupeException if a call to the service failed, or the thread was interrupted
   */
  public OnceOutcome once(
      String namespace, String messageId, InsertOptions options, Callable<byte[]> action) {
    return onceRunner.run(namespace, messageId, options, action);
  }

  /**
   * once() for a batch of messages received together, such as a queue consumer's prefetched
   * deliveries or an SQS receive of ten: one CheckAndInsert with a lease decides every id of
   * the batch; then, in the batch's order and on this thread, {@code action} runs for each
   * message whose id is new, its lease extended every half lease while it runs, and what it
   * returns is committed (or, if it threw, the lease is released so that a redelivery runs it).
   * Returns one outcome per message, in order, saying what to do with its delivery
   * ({@link EachOutcome}); it throws only for a bad namespace or a closed client.
   *
   * <pre>{@code
   * List<EachOutcome<Delivery>> outcomes = client.onceEach("orders", deliveries,
   *     EachSpec.<Delivery>ids(Delivery::messageId).withLease(Duration.ofSeconds(30)),
   *     delivery -> charge(delivery));
   * }</pre>
   *
   * <p>An id twice in the batch runs once; with {@link EachSpec#inGroups} a group stops at its
   * first message that does not finish. The guarantee is once()'s: the action runs to
   * completion at most once per id within the window, except when a process dies after the
   * side effect and before its Commit; then the lease runs out and a redelivery runs it again.
   *
   * @throws IllegalArgumentException if the namespace is malformed
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the client is closed or closing
   */
  public <M> List<EachOutcome<M>> onceEach(String namespace, List<M> messages, EachSpec<M> spec,
      EachAction<M> action) {
    Objects.requireNonNull(messages, "messages");
    Objects.requireNonNull(spec, "spec");
    Objects.requireNonNull(action, "action");
    requireState(State.OPEN);
    return onceEachRunner.run(namespace, List.copyOf(messages), spec, action);
  }

  // ---------------------------------------------------------------------------------------
  // Plumbing

  /** Sends ids as one logical request, not batched with other callers. */
  private <T, I extends Item<T>> List<I> direct(String namespace, List<String> ids,
      Function<String, I> item, Dispatcher.GroupCall<I> call, State allowedUpTo) {
    Validation.namespace(namespace);
    requireState(allowedUpTo);
    List<I> items = ids.stream().map(item).toList();
    if (items.isEmpty()) {
      return items;
    }
    track(CompletableFuture.allOf(items.stream().map(i -> i.result).toArray(CompletableFuture[]::new)));
    dispatcher.dispatch(namespace, items, call);
    return items;
  }

  private static CompletableFuture<List<Decision>> collect(
      String rpc, String namespace, List<? extends Item<Decision>> items) {
    if (items.isEmpty()) {
      return CompletableFuture.completedFuture(List.of());
    }
    return CompletableFuture.allOf(items.stream().map(i -> i.result).toArray(CompletableFuture[]::new))
        .handle((done, failure) -> {
          if (failure == null) {
            return items.stream().map(i -> i.result.join()).toList();
          }
          List<Decision> decided = new ArrayList<>(items.size());
          // Per id, the token a failed id went out with: the caller retries with it later.
          List<String> tokens = new ArrayList<>(items.size());
          Throwable first = null;
          int failed = 0;
          for (Item<Decision> item : items) {
            if (item.result.isCompletedExceptionally()) {
              failed++;
              decided.add(null);
              Throwable cause = causeOf(item.result);
              tokens.add(cause instanceof DedupeException de ? de.attemptToken() : null);
              if (first == null) {
                first = cause;
              }
            } else {
              decided.add(item.result.join());
              tokens.add(null);
            }
          }
          Status status = first instanceof DedupeException de ? de.status() : Status.fromThrowable(first);
          if (tokens.stream().allMatch(Objects::isNull)) {
            tokens = List.of(); // not a CheckAndInsert, or nothing was sent
          }
          if (failed == items.size()) {
            if (items.size() == 1 || !(first instanceof DedupeException)) {
              throw new CompletionException(first);
            }
            throw new CompletionException(new DedupeException(rpc + " of " + items.size()
                + " ids in namespace '" + namespace + "' failed; first failure: "
                + first.getMessage(), status, first, tokens));
          }
          throw new CompletionException(new PartialBatchException(rpc + " of " + items.size()
              + " ids in namespace '" + namespace + "': " + failed + " failed, "
              + (items.size() - failed) + " decided; first failure: " + first.getMessage(),
              status, decided, first, tokens));
        });
  }

  private static Throwable causeOf(CompletableFuture<?> failed) {
    try {
      failed.join();
      throw new AssertionError("not failed");
    } catch (CompletionException e) {
      return Dispatcher.unwrap(e);
    } catch (java.util.concurrent.CancellationException e) {
      return e;
    }
  }

  private void requireState(State allowedUpTo) {
    State now = state.get();
    if (now.compareTo(allowedUpTo) > 0) {
      throw new IllegalStateException("the dedupe client is " + now.name().toLowerCase()
          + "; no new calls");
    }
  }

  private void track(CompletableFuture<?> operation) {
    inFlight.started();
    operation.whenComplete((r, t) -> inFlight.finished());
  }

  /** Waits for a future on the caller's thread, turning its failure back into the exception. */
  private static <T> T await(CompletableFuture<T> future) {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DedupeException("interrupted while waiting for the dedupe service; the call may"
          + " still take effect", Status.CANCELLED.withCause(e), e);
    } catch (ExecutionException e) {
      Throwable cause = Dispatcher.unwrap(e);
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new DedupeException("dedupe call failed: " + cause, Status.fromThrowable(cause), cause);
    }
  }

  /** CheckAndInsert ids gathered in batches not yet sent; for tests in this package. */
  int idsWaitingToBeSent() {
    return accumulator.waitingIds();
  }

  /** Batching keys with batches waiting or in flight; for tests in this package. */
  int batchKeysHeld() {
    return accumulator.keysHeld();
  }

  /** The routing table this client goes by now; for tests in this package. */
  ShardRouter.Table routingTable() {
    return router.table().join();
  }

  /**
   * Stops taking new calls, sends every batch still gathering ids (lingering, or waiting for
   * an in-flight batch of its key to be answered) at once, waits up to the request deadline
   * plus the longest backoff for calls in flight (lease operations may still be made
   * meanwhile, so that running {@link #once} calls can commit), then cancels whatever is left
   * (those futures fail with CANCELLED) and closes the connections. Safe to call twice.
   */
  @Override
  public void close() {
    if (!state.compareAndSet(State.OPEN, State.CLOSING)) {
      return;
    }
    accumulator.flushAll();
    inFlight.awaitIdle(settings.requestDeadline.plus(settings.retry.maxBackoff()));
    state.set(State.CLOSED);
    // Backoff waits and linger timers that have not run: run them now, so that they fail
    // their callers (the client is closed) rather than leave them waiting.
    for (Runnable pending : timer.shutdownNow()) {
      try {
        pending.run();
      } catch (RuntimeException e) {
        // a renewal or retry that found the client closed; its callers are failed
      }
    }
    router.close();
    channels.shutdownNow(Duration.ofSeconds(5));
  }

  /** Counts public operations in flight, so that close() can wait for them. Any thread. */
  private static final class InFlight {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition idle = lock.newCondition();
    private int count;

    void started() {
      lock.lock();
      try {
        count++;
      } finally {
        lock.unlock();
      }
    }

    void finished() {
      lock.lock();
      try {
        if (--count == 0) {
          idle.signalAll();
        }
      } finally {
        lock.unlock();
      }
    }

    void awaitIdle(Duration max) {
      long left = max.toNanos();
      lock.lock();
      try {
        while (count > 0 && left > 0) {
          left = idle.awaitNanos(left);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        lock.unlock();
      }
    }
  }

  /** The builder's settings, frozen. */
  private record Settings(
      List<String> targets,
      Duration requestDeadline,
      RetryPolicy retry,
      int maxBatchIds,
      Duration linger,
      int maxInFlightBatches,
      int maxPendingIds,
      Duration maxBlock,
      Duration defaultLease,
      Executor executor,
      List<ClientInterceptor> interceptors,
      Function<String, ManagedChannel> channelFactory) {}

  /**
   * Builds a {@link DedupeClient}. Every setter may be called at most once and checks its value
   * at once, with a message that carries the value; {@link #build} checks the combination.
   *
   * <pre>{@code
   * DedupeClient client = DedupeClient.builder()
   *     .targets(List.of("dedupe-0:50051", "dedupe-1:50051"))  // any node; the map finds the rest
   *     .requestDeadline(Duration.ofSeconds(2))                 // per attempt
   *     .maxAttempts(10)
   *     .retryBudget(Duration.ofSeconds(10))                   // from the first attempt
   *     .backoff(Duration.ofMillis(50), Duration.ofSeconds(2))
   *     .jitter(0.2)
   *     .maxBatchIds(500)
   *     .maxInFlightBatches(2)                                  // natural batching (linger zero)
   *     .maxPendingIds(100_000)
   *     .maxBlock(Duration.ofSeconds(1))
   *     .defaultLease(Duration.ofSeconds(30))
   *     .build();
   * }</pre>
   *
   * <p>Not thread-safe; build on one thread.
   */
  public static final class Builder {

    /** The most ids the server takes in one request by default (limits.batch.max-ids). */
    public static final int SERVER_MAX_IDS_PER_REQUEST = 10_000;

    /** The default {@link #linger}: zero, natural batching with no timed wait. */
    static final Duration DEFAULT_LINGER = Duration.ZERO;

    /**
     * The default {@link #maxInFlightBatches}, chosen by measuring 1, 2 and 4 with 1 to 16
     * threads calling checkAndInsert one id at a time (docs/benchmarks.md): see the setter.
     */
    static final int DEFAULT_MAX_IN_FLIGHT_BATCHES = 2;

    /** The largest {@link #maxInFlightBatches} accepted. */
    static final int MAX_IN_FLIGHT_BATCHES_LIMIT = 1_000;

    private List<String> targets;
    private Duration requestDeadline;
    private Integer maxAttempts;
    private Duration retryBudget;
    private Duration initialBackoff;
    private Duration maxBackoff;
    private Double jitter;
    private Integer maxBatchIds;
    private Duration linger;
    private Integer maxInFlightBatches;
    private Integer maxPendingIds;
    private Duration maxBlock;
    private Duration defaultLease;
    private Executor executor;
    private List<ClientInterceptor> interceptors;
    private ChannelCredentials credentials;
    private Function<String, ManagedChannel> channelFactory;

    private Builder() {}

    /**
     * The one address to start from, "host:port". Any node of a cluster will do: the shard map
     * names the others. But until the client has read a map, this is the only address it
     * knows: if that node is down, every call fails. For a cluster, give several
     * ({@link #targets}).
     *
     * @throws IllegalArgumentException if it is not host:port with a port in [1, 65535]
     * @throws IllegalStateException if targets were already set
     * @throws NullPointerException if address is null
     */
    public Builder target(String address) {
      return targets(List.of(Objects.requireNonNull(address, "address")));
    }

    /**
     * Addresses to start from, "host:port" each (seeds); list several for a cluster. A map
     * fetch asks them, and every node a map has named since, one after another, moving on from
     * one that fails or has not answered within a quarter second, and takes the first answer;
     * so a dead or hung seed costs little, and a client whose seeds are all gone still finds
     * the nodes it learned of.
     *
     * @throws IllegalArgumentException if the list is empty or an address is not host:port
     * @throws IllegalStateException if targets were already set
     * @throws NullPointerException if the list or an address is null
     */
    public Builder targets(List<String> addresses) {
      Objects.requireNonNull(addresses, "addresses");
      setOnce("targets", targets);
      if (addresses.isEmpty()) {
        throw new IllegalArgumentException("targets must hold at least one host:port, was []");
      }
      for (String a : addresses) {
        Validation.hostPort(a);
      }
      targets = List.copyOf(addresses);
      return this;
    }

    /**
     * How long each attempt of an RPC may take (default 5 s). A call may take up to its
     * {@link #retryBudget} plus this.
     *
     * @throws IllegalArgumentException if not in (0, 1 h]
     * @throws IllegalStateException if already set
     * @throws NullPointerException if deadline is null
     */
    public Builder requestDeadline(Duration deadline) {
      setOnce("requestDeadline", requestDeadline);
      requestDeadline = Validation.inRange("requestDeadline", deadline, false, Duration.ofHours(1));
      return this;
    }

    /**
     * Attempts per RPC in all, the first included (default 10); 1 disables retries. The
     * {@link #retryBudget} may end a call's retries first.
     *
     * @throws IllegalArgumentException if not in [1, 100]
     * @throws IllegalStateException if already set
     */
    public Builder maxAttempts(int attempts) {
      setOnce("maxAttempts", maxAttempts);
      if (attempts < 1 || attempts > 100) {
        throw new IllegalArgumentException("maxAttempts must be in [1, 100], was " + attempts);
      }
      maxAttempts = attempts;
      return this;
    }

    /**
     * How long after its first attempt a call may still start another one (default 10 s);
     * the last backoff is cut short to fit. Retries end here or at {@link #maxAttempts},
     * whichever comes first. The default outlasts a leadership handover or a node's restart
     * on a busy machine; a caller that would rather fail fast sets it shorter.
     *
     * @throws IllegalArgumentException if not in (0, 1 h]
     * @throws IllegalStateException if already set
     * @throws NullPointerException if budget is null
     */
    public Builder retryBudget(Duration budget) {
      setOnce("retryBudget", retryBudget);
      retryBudget = Validation.inRange("retryBudget", budget, false, Duration.ofHours(1));
      return this;
    }

    /**
     * The wait after the first failed attempt, doubling after each further one up to
     * {@code max} (defaults 50 ms and 2 s).
     *
     * @throws IllegalArgumentException if initial is not in (0, 1 min], or max is shorter
     *     than initial or longer than 10 min
     * @throws IllegalStateException if already set
     * @throws NullPointerException if either is null
     */
    public Builder backoff(Duration initial, Duration max) {
      setOnce("backoff", initialBackoff);
      Validation.inRange("initial backoff", initial, false, Duration.ofMinutes(1));
      Validation.inRange("max backoff", max, false, Duration.ofMinutes(10));
      if (max.compareTo(initial) < 0) {
        throw new IllegalArgumentException("max backoff must be at least the initial backoff "
            + initial + ", was " + max);
      }
      initialBackoff = initial;
      maxBackoff = max;
      return this;
    }

    /**
     * The random part of each backoff wait, in [0, 1] (default 0.2): a wait of d becomes a
     * random wait in [d * (1 - jitter), d], so callers that failed together spread out.
     *
     * @throws IllegalArgumentException if not in [0, 1]
     * @throws IllegalStateException if already set
     */
    public Builder jitter(double fraction) {
      setOnce("jitter", jitter);
      if (!(fraction >= 0 && fraction <= 1)) {
        throw new IllegalArgumentException("jitter must be in [0, 1], was " + fraction);
      }
      jitter = fraction;
      return this;
    }

    /**
     * The most ids in one CheckAndInsert request (default 500); also the chunk size of
     * multi-id Check and Forget. 1 disables batching. Bigger batches mean fewer RPCs and
     * fsyncs, and a longer wait for the whole batch when it is slow.
     *
     * @throws IllegalArgumentException if not in [1, 10000] (the server's default limit)
     * @throws IllegalStateException if already set
     */
    public Builder maxBatchIds(int ids) {
      setOnce("maxBatchIds", maxBatchIds);
      if (ids < 1 || ids > SERVER_MAX_IDS_PER_REQUEST) {
        throw new IllegalArgumentException(
            "maxBatchIds must be in [1, " + SERVER_MAX_IDS_PER_REQUEST + "], was " + ids);
      }
      maxBatchIds = ids;
      return this;
    }

    /**
     * How long a batch waits for more ids after its first (default zero).
     *
     * <p>Zero means natural batching: a batch is sent at once while fewer than
     * {@link #maxInFlightBatches} batches of its namespace and lease are in flight; otherwise
     * its ids gather until one of those is answered (or the batch is full). A lone caller
     * waits for nothing, and under load batches grow to the number of waiting callers.
     *
     * <p>A positive linger is a timed wait, as the client did before natural batching (its
     * default was 5 ms): each batch is sent when it holds {@link #maxBatchIds} ids, or
     * {@code linger} after its first id, whichever comes first, and {@link #maxInFlightBatches}
     * does not hold it back; so linger is the upper bound on the wait. Choose it for fewer,
     * larger requests (fewer RPCs and server fsyncs) at the price of adding up to its length
     * to every call's latency when traffic is light.
     *
     * @throws IllegalArgumentException if not in [0, 10 s]
     * @throws IllegalStateException if already set
     * @throws NullPointerException if linger is null
     */
    public Builder linger(Duration linger) {
      setOnce("linger", this.linger);
      this.linger = Validation.inRange("linger", linger, true, Duration.ofSeconds(10));
      return this;
    }

    /**
     * With linger zero (the default), how many batches of one namespace and lease (and
     * attempt token of the callers' own) may be in flight at once before further ids wait
     * for one of them to be answered (default 2). A
     * batch is in flight from when it is sent until its first attempt is answered or has
     * failed: a failed batch gives its place back like an answered one, and one waiting out a
     * retry backoff (a node is down) does not hold up the ids that come after it. A full
     * batch ({@link #maxBatchIds}) is sent at once regardless.
     *
     * <p>Lower means fewer, larger requests under load (fewer RPCs, and more ids per write
     * round on each of the server's shards) and a wait of about one round trip
     * for ids that arrive while the bound is reached; higher lets more small requests
     * overlap, which helps latency while the server has idle capacity and costs throughput
     * when it has not. The default was measured (docs/benchmarks.md, "The Java client's
     * batching"): with 4 to 16 threads calling checkAndInsert one id at a time, 1 and 2 were
     * level within the noise and 4 behind; with 2 threads, 1 made the two calls take turns
     * (each waiting out the other's round trip, never sharing a batch) and 2 went 1.7 times
     * as fast. In a cluster, a batch goes to several nodes at once and counts as one. With a
     * positive {@link #linger} this setting has no effect.
     *
     * @throws IllegalArgumentException if not in [1, 1000]
     * @throws IllegalStateException if already set
     */
    public Builder maxInFlightBatches(int batches) {
      setOnce("maxInFlightBatches", maxInFlightBatches);
      if (batches < 1 || batches > MAX_IN_FLIGHT_BATCHES_LIMIT) {
        throw new IllegalArgumentException("maxInFlightBatches must be in [1, "
            + MAX_IN_FLIGHT_BATCHES_LIMIT + "], was " + batches);
      }
      maxInFlightBatches = batches;
      return this;
    }

    /**
     * The most checkAndInsert ids the client holds at once, waiting for a batch, a reply or a
     * retry (default 100,000). Bounds the client's memory when the service is slower than the
     * callers; see {@link #maxBlock}.
     *
     * @throws IllegalArgumentException if not in [1, 10,000,000]
     * @throws IllegalStateException if already set
     */
    public Builder maxPendingIds(int ids) {
      setOnce("maxPendingIds", maxPendingIds);
      if (ids < 1 || ids > 10_000_000) {
        throw new IllegalArgumentException("maxPendingIds must be in [1, 10000000], was " + ids);
      }
      maxPendingIds = ids;
      return this;
    }

    /**
     * How long a checkAndInsert call (blocking or async) waits for room under
     * {@link #maxPendingIds} before failing with {@link PendingLimitExceededException}
     * (default 1 s). Zero fails at once.
     *
     * @throws IllegalArgumentException if not in [0, 10 min]
     * @throws IllegalStateException if already set
     * @throws NullPointerException if wait is null
     */
    public Builder maxBlock(Duration wait) {
      setOnce("maxBlock", maxBlock);
      maxBlock = Validation.inRange("maxBlock", wait, true, Duration.ofMinutes(10));
      return this;
    }

    /**
     * The lease {@link DedupeClient#once} takes when its options name none (default 30 s).
     * Longer: a crashed holder blocks redelivery longer. Shorter: more ExtendLease calls while
     * the action runs.
     *
     * @throws IllegalArgumentException if not in (0, 1 h] (the server's default limit)
     * @throws IllegalStateException if already set
     * @throws NullPointerException if lease is null
     */
    public Builder defaultLease(Duration lease) {
      setOnce("defaultLease", defaultLease);
      defaultLease = Validation.inRange("defaultLease", lease, false, Duration.ofHours(1));
      return this;
    }

    /**
     * Runs gRPC callbacks and so completes the client's futures (default: gRPC's shared
     * pool). The client does not shut it down.
     *
     * @throws IllegalStateException if already set
     * @throws NullPointerException if executor is null
     */
    public Builder executor(Executor executor) {
      setOnce("executor", this.executor);
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Interceptors for every call (auth metadata, tracing, metrics), applied in gRPC's order:
     * the last one given sees a call first.
     *
     * @throws IllegalStateException if already set
     * @throws NullPointerException if the array or an interceptor is null
     */
    public Builder interceptors(ClientInterceptor... interceptors) {
      setOnce("interceptors", this.interceptors);
      this.interceptors = List.of(interceptors);
      return this;
    }

    /**
     * The credentials for the default channels, for example TLS (default plaintext).
     *
     * @throws IllegalStateException if already set, or a channel factory is set
     * @throws NullPointerException if credentials is null
     */
    public Builder credentials(ChannelCredentials credentials) {
      setOnce("credentials", this.credentials);
      if (channelFactory != null) {
        throw new IllegalStateException("credentials cannot be combined with a channelFactory;"
            + " configure the factory's channels instead");
      }
      this.credentials = Objects.requireNonNull(credentials, "credentials");
      return this;
    }

    /**
     * Makes the channel for one "host:port" address, for full control of the transport. Called
     * once per address; the client shuts the channels down when it closes.
     *
     * @throws IllegalStateException if already set, or credentials are set
     * @throws NullPointerException if factory is null
     */
    public Builder channelFactory(Function<String, ManagedChannel> factory) {
      setOnce("channelFactory", channelFactory);
      if (credentials != null) {
        throw new IllegalStateException("channelFactory cannot be combined with credentials;"
            + " configure the factory's channels instead");
      }
      channelFactory = Objects.requireNonNull(factory, "factory");
      return this;
    }

    /**
     * Builds the client. Makes no connection yet: the first call fetches the shard map.
     *
     * @throws IllegalStateException if no target was set, or maxPendingIds is smaller than
     *     maxBatchIds (a batch could never fill)
     */
    public DedupeClient build() {
      if (targets == null) {
        throw new IllegalStateException("no target: call target(\"host:port\") or targets(...)");
      }
      int batch = maxBatchIds != null ? maxBatchIds : 500;
      int pending = maxPendingIds != null ? maxPendingIds : 100_000;
      if (pending < batch) {
        throw new IllegalStateException("maxPendingIds (" + pending + ") must be at least"
            + " maxBatchIds (" + batch + ")");
      }
      ChannelCredentials creds = credentials != null ? credentials : InsecureChannelCredentials.create();
      Function<String, ManagedChannel> factory = channelFactory != null ? channelFactory
          : address -> Grpc.newChannelBuilder(address, creds).build();
      return new DedupeClient(new Settings(
          targets,
          requestDeadline != null ? requestDeadline : Duration.ofSeconds(5),
          new RetryPolicy(
              maxAttempts != null ? maxAttempts : 10,
              retryBudget != null ? retryBudget : Duration.ofSeconds(10),
              initialBackoff != null ? initialBackoff : Duration.ofMillis(50),
              maxBackoff != null ? maxBackoff : Duration.ofSeconds(2),
              jitter != null ? jitter : 0.2),
          batch,
          linger != null ? linger : DEFAULT_LINGER,
          maxInFlightBatches != null ? maxInFlightBatches : DEFAULT_MAX_IN_FLIGHT_BATCHES,
          pending,
          maxBlock != null ? maxBlock : Duration.ofSeconds(1),
          defaultLease != null ? defaultLease : Duration.ofSeconds(30),
          executor,
          interceptors != null ? interceptors : List.of(),
          factory));
    }

    private static void setOnce(String setting, Object current) {
      if (current != null) {
        throw new IllegalStateException(setting + " was already set to " + current);
      }
    }
  }
}
