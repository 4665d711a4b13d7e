package dev.dedupe.client;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ScheduledExecutorService;

/**
 * {@link DedupeClient#once}: takes a lease on the id, runs the action if the id is new, keeps
 * the lease alive while it runs ({@link LeaseKeeper}), then commits the action's result, or
 * releases the lease if the action threw so that a redelivery runs it again.
 *
 * <p>Threads: {@link #run} runs on the caller's thread, action included; lease renewals run on
 * the client's timer thread.
 */
final class OnceRunner {

  private final DedupeClient client;
  private final ScheduledExecutorService timer;
  private final Duration defaultLease;

  OnceRunner(DedupeClient client, ScheduledExecutorService timer, Duration defaultLease) {
    this.client = client;
    this.timer = timer;
    this.defaultLease = defaultLease;
  }

  /** See {@link DedupeClient#once(String, String, InsertOptions, Callable)}. */
  OnceOutcome run(
      String namespace, String messageId, InsertOptions options, Callable<byte[]> action) {
    Objects.requireNonNull(options, "options");
    Objects.requireNonNull(action, "action");
    Duration lease = options.lease() != null ? options.lease() : defaultLease;
    Decision decision = client.checkAndInsert(namespace, messageId, options.withLease(lease));
    switch (decision.verdict()) {
      case DUPLICATE -> {
        return new OnceOutcome.AlreadyDone(messageId, decision.result(), decision.firstSeen());
      }
      case IN_PROGRESS -> {
        return new OnceOutcome.InProgressElsewhere(messageId, decision.leaseExpiresAt());
      }
      case CONFLICT -> {
        return new OnceOutcome.Conflict(messageId, decision.firstSeen());
      }
      case NEW -> { /* ours: below */ }
    }
    String token = decision.attemptToken();
    LeaseKeeper keeper = new LeaseKeeper(client, timer, namespace, messageId, token, lease);
    byte[] result;
    try {
      result = action.call();
    } catch (Exception e) {
      keeper.stop();
      boolean released = false;
      RuntimeException releaseFailure = null;
      try {
        client.release(namespace, messageId, token);
        released = true;
      } catch (RuntimeException re) {
        // Lease lost, service down, or client closed: the lease runs out on its own. The
        // action's failure is what the caller must see.
        releaseFailure = re;
      }
      OnceActionException failure = new OnceActionException(namespace, messageId, released, e);
      if (releaseFailure != null) {
        failure.addSuppressed(releaseFailure);
      }
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw failure;
    } finally {
      keeper.stop();
    }
    byte[] stored = result == null ? new byte[0] : result;
    client.commit(namespace, messageId, token, stored);
    return new OnceOutcome.Executed(messageId, stored, decision);
  }
}
