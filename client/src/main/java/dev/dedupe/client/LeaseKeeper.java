package dev.dedupe.client;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Keeps one lease alive while once()'s action runs: every half lease, an ExtendLease on the
 * timer thread. Stops for good at {@link #stop} or when the lease turns out to be lost.
 *
 * <p>Threads: started and stopped by the caller's thread; renewals run on the timer thread
 * and their replies on gRPC threads. {@link #lock} guards {@link #stopped} and {@link #next}.
 */
final class LeaseKeeper {
  private final DedupeClient client;
  private final ScheduledExecutorService timer;
  private final String namespace;
  private final String id;
  private final String token;
  private final Duration lease;
  private final long everyNanos;
  /** Told each new end of the lease (an SQS adapter extends the message's visibility with it). */
  private final java.util.function.Consumer<Instant> onRenewed;
  private final ReentrantLock lock = new ReentrantLock();
  private boolean stopped;
  private ScheduledFuture<?> next;

  /** Starts keeping the lease: the first renewal comes after half the lease. */
  LeaseKeeper(DedupeClient client, ScheduledExecutorService timer, String namespace, String id,
      String token, Duration lease) {
    this(client, timer, namespace, id, token, lease, end -> { });
  }

  /**
   * Starts keeping the lease, and tells {@code onRenewed} each new end, on a gRPC thread: it
   * must not block.
   */
  LeaseKeeper(DedupeClient client, ScheduledExecutorService timer, String namespace, String id,
      String token, Duration lease, java.util.function.Consumer<Instant> onRenewed) {
    this.onRenewed = onRenewed;
    this.client = client;
    this.timer = timer;
    this.namespace = namespace;
    this.id = id;
    this.token = token;
    this.lease = lease;
    this.everyNanos = Math.max(lease.toNanos() / 2, TimeUnit.MILLISECONDS.toNanos(10));
    schedule();
  }

  private void schedule() {
    lock.lock();
    try {
      if (!stopped) {
        next = timer.schedule(this::renew, everyNanos, TimeUnit.NANOSECONDS);
      }
    } catch (RejectedExecutionException closing) {
      stopped = true;
    } finally {
      lock.unlock();
    }
  }

  private void renew() {
    CompletableFuture<Instant> renewed;
    // Sending under the lock (the send itself does not block) means that once stop()
    // returns, no renewal is left half-started.
    lock.lock();
    try {
      if (stopped) {
        return;
      }
      renewed = client.extendLeaseAsync(namespace, id, token, lease);
    } catch (RuntimeException closed) {
      return; // the client is closed: the lease runs out on its own
    } finally {
      lock.unlock();
    }
    renewed.whenComplete((end, failure) -> {
      if (failure == null && end != null) {
        try {
          onRenewed.accept(end);
        } catch (RuntimeException e) {
          // The listener's trouble is its own; the lease is kept all the same.
        }
      }
      if (!(Dispatcher.unwrap(failure) instanceof LeaseLostException)) {
        schedule(); // renewed, or a transient failure: try again next time
      }
    });
  }

  /** Stops renewing; a renewal already sent may still land. */
  void stop() {
    lock.lock();
    try {
      stopped = true;
      if (next != null) {
        next.cancel(false);
      }
    } finally {
      lock.unlock();
    }
  }
}
