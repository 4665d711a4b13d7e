package dev.dedupe.client;

import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceStub;
import dev.dedupe.v1.IdStatus;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Sends the ids of one logical request: groups them by owning node, sends each group as its
 * own RPC (in parallel), and retries each failed group on its own with backoff, regrouping it
 * by the (possibly refreshed) shard map first. Ids a node answers UNAVAILABLE one by one
 * (another node owns their shard) are retried the same way, or at once at the owner the
 * answer names. Every attempt of a group is made by the same
 * {@link GroupCall}, so a CheckAndInsert keeps its attempt token across retries.
 *
 * <p>Threads: {@link #dispatch} may be called from any thread and never blocks; replies are
 * handled on gRPC callback threads (or the configured executor), backoff waits on the
 * client's timer thread.
 */
final class Dispatcher {

  /**
   * One kind of RPC over a group of items that share a destination.
   *
   * @param <I> the item type
   */
  interface GroupCall<I extends Item<?>> {

    /** The RPC's name, for messages. */
    String rpcName();

    /**
     * The CheckAndInsert attempt token every attempt of this call sends, for the failure to
     * carry (the caller may retry later with it); null for other RPCs.
     */
    default String attemptToken() {
      return null;
    }

    /**
     * Sends one attempt. On a reply, completes every item it can (each with its result or its
     * own failure) and returns the items the node did not handle (per-id UNAVAILABLE), which
     * it leaves alone; on an RPC failure, completes the returned future with it and leaves
     * every item alone. Items left alone are retried or failed by the dispatcher.
     */
    CompletableFuture<List<Deferred<I>>> send(DedupeServiceStub stub, List<I> items);

    /** No (further) attempt will be made: fail the items with {@code failure}. */
    default void fail(List<I> items, DedupeException failure) {
      items.forEach(item -> item.result.completeExceptionally(failure));
    }
  }

  /**
   * An item the node did not handle: the server answered UNAVAILABLE for this one id (another
   * node owns its shard, or the shard has no owner now), and did not touch it.
   *
   * @param item the item, still pending
   * @param status the per-id status, with the owner to go to when the server knew it
   */
  record Deferred<I>(I item, IdStatus status) {}

  private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

  private final ShardRouter router;
  private final ChannelPool channels;
  private final RetryPolicy retry;
  private final int maxIdsPerRequest;
  private final ScheduledExecutorService timer;
  private final BooleanSupplier closed;

  Dispatcher(ShardRouter router, ChannelPool channels, RetryPolicy retry, int maxIdsPerRequest,
      ScheduledExecutorService timer, BooleanSupplier closed) {
    this.router = router;
    this.channels = channels;
    this.retry = retry;
    this.maxIdsPerRequest = maxIdsPerRequest;
    this.timer = timer;
    this.closed = closed;
  }

  /**
   * Sends {@code items} of {@code namespace}, and retries what fails within the retry policy's
   * attempts and budget. Returns a future that completes (never exceptionally) when this attempt is over: every RPC
   * it made has been answered or has failed, and its outcome has been handled (items
   * completed, or their next attempt scheduled), or nothing was sent. Retries are not waited
   * for: the accumulator's in-flight bound counts round trips, so that a batch waiting out a
   * backoff (a node is down) does not hold up ids bound for healthy nodes.
   */
  <I extends Item<?>> CompletableFuture<Void> dispatch(
      String namespace, List<I> items, GroupCall<I> call) {
    return dispatch(namespace, items, call, 1, retry.retryUntilNanos(System.nanoTime()));
  }

  /** Attempt {@code attempt} of a call that may retry until {@code retryUntil} (nanoTime). */
  private <I extends Item<?>> CompletableFuture<Void> dispatch(
      String namespace, List<I> items, GroupCall<I> call, int attempt, long retryUntil) {
    if (closed.getAsBoolean()) {
      // An earlier attempt may have been sent (and recorded): the token goes with the failure.
      call.fail(items, new DedupeException(call.rpcName() + " of " + items.size()
          + " id(s) in namespace '" + namespace + "' was not sent (again): the client is closed",
          Status.CANCELLED.withDescription("client closed"), null, Rpcs.tokens(call.attemptToken())));
      return DONE;
    }
    CompletableFuture<Void> over = new CompletableFuture<>();
    router.table().whenComplete((table, failure) -> {
      List<CompletableFuture<?>> rpcs = new ArrayList<>();
      try {
        if (failure != null) {
          throw new IllegalStateException("no shard map", failure);
        }
        for (Map.Entry<String, List<I>> group : ShardRouter.group(table, namespace, items).entrySet()) {
          List<I> ids = group.getValue();
          for (int from = 0; from < ids.size(); from += maxIdsPerRequest) {
            List<I> part = ids.subList(from, Math.min(ids.size(), from + maxIdsPerRequest));
            rpcs.add(send(namespace, group.getKey(), List.copyOf(part), call, attempt, retryUntil,
                table));
          }
        }
      } catch (RuntimeException e) {
        // A bug here must not leave callers waiting forever.
        call.fail(items, new DedupeException(call.rpcName() + " in namespace '" + namespace
            + "' failed in the client: " + e, Status.INTERNAL.withCause(e), e,
            Rpcs.tokens(call.attemptToken())));
      } finally {
        CompletableFuture.allOf(rpcs.toArray(CompletableFuture[]::new))
            .whenComplete((done, ignored) -> over.complete(null));
      }
    });
    return over;
  }

  /** Sends one group; the returned future completes when its reply or failure is handled. */
  private <I extends Item<?>> CompletableFuture<?> send(String namespace, String address,
      List<I> group, GroupCall<I> call, int attempt, long retryUntil, ShardRouter.Table table) {
    CompletableFuture<List<Deferred<I>>> sent;
    try {
      sent = call.send(channels.stub(address), group);
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    return sent.whenComplete((deferred, failure) -> {
      if (failure != null) {
        onFailure(namespace, address, group, call, attempt, retryUntil, table, unwrap(failure));
      } else if (!deferred.isEmpty()) {
        onDeferred(namespace, address, deferred, call, attempt, retryUntil, table);
      }
    });
  }

  /**
   * Some ids were not handled by the node asked. Ids whose answer names another owner go
   * there at once (a redirect, not a failure, so no backoff); the others wait out a backoff
   * after the map is fetched again. Either way it is an attempt, so a map that keeps pointing
   * in circles ends after maxAttempts (or the budget).
   */
  private <I extends Item<?>> void onDeferred(String namespace, String address,
      List<Deferred<I>> deferred, GroupCall<I> call, int attempt, long retryUntil,
      ShardRouter.Table table) {
    List<I> redirected = new ArrayList<>();
    List<I> waiting = new ArrayList<>();
    for (Deferred<I> d : deferred) {
      boolean elsewhere = d.status().hasOwner()
          && !d.status().getOwner().getAddress().equals(address)
          && router.hint(d.status().getOwner());
      (elsewhere ? redirected : waiting).add(d.item());
    }
    String reason = deferred.get(0).status().getMessage();
    Status status = Status.UNAVAILABLE.withDescription("not handled by " + address + ": " + reason);
    long now = System.nanoTime();
    if (!retry.mayRetry(attempt, now, retryUntil) || closed.getAsBoolean()) {
      List<I> all = new ArrayList<>(redirected);
      all.addAll(waiting);
      call.fail(all, failure(call, namespace, address, all, attempt, status, null));
      return;
    }
    if (!redirected.isEmpty()) {
      dispatch(namespace, redirected, call, attempt + 1, retryUntil);
    }
    if (!waiting.isEmpty()) {
      retryLater(namespace, address, waiting, call, attempt, retryUntil,
          retry.backoff(attempt, now, retryUntil), table, status, null, true);
    }
  }

  private <I extends Item<?>> void onFailure(String namespace, String address, List<I> group,
      GroupCall<I> call, int attempt, long retryUntil, ShardRouter.Table table,
      Throwable failure) {
    Status status = Status.fromThrowable(failure);
    long now = System.nanoTime();
    if (RetryPolicy.isRetryable(status.getCode()) && retry.mayRetry(attempt, now, retryUntil)
        && !closed.getAsBoolean()) {
      // UNAVAILABLE is how a node that is down or lost its shards shows itself: look again.
      retryLater(namespace, address, group, call, attempt, retryUntil,
          retry.backoff(attempt, now, retryUntil), table, status, failure,
          status.getCode() == Status.Code.UNAVAILABLE);
      return;
    }
    call.fail(group, failure(call, namespace, address, group, attempt, status, failure));
  }

  /** Waits a backoff (after fetching the map again, if asked), then sends attempt + 1. */
  private <I extends Item<?>> void retryLater(String namespace, String address, List<I> group,
      GroupCall<I> call, int attempt, long retryUntil, Duration wait, ShardRouter.Table table,
      Status status, Throwable cause, boolean refreshMap) {
    CompletableFuture<?> first = refreshMap
        ? router.refresh(table) : CompletableFuture.completedFuture(null);
    first.whenComplete((t, e) -> {
      try {
        timer.schedule(() -> dispatch(namespace, group, call, attempt + 1, retryUntil),
            wait.toNanos(), TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException closing) {
        call.fail(group, failure(call, namespace, address, group, attempt, status, cause));
      }
    });
  }

  private static DedupeException failure(GroupCall<?> call, String namespace, String address,
      List<?> group, int attempts, Status status, Throwable cause) {
    return new DedupeException(call.rpcName() + " of " + group.size() + " id(s) in namespace '"
        + namespace + "' at " + address + " failed after " + attempts + " attempt(s): "
        + status.getCode() + (status.getDescription() != null ? ": " + status.getDescription() : "")
        + (call.attemptToken() != null ? " (attempt token " + call.attemptToken() + ")" : ""),
        status, cause, Rpcs.tokens(call.attemptToken()));
  }

  static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }
}
