package dev.dedupe.server.copy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * The node-wide budget of snapshot bytes per second: every copy this node sends (a move's
 * copy, a lagging follower's rebuild) takes its chunks' bytes from it before sending them, so
 * that all of them together stay under the rate, however many run at once.
 *
 * <p>It charges before sending: a chunk of {@code n} bytes goes once the budget has paid for
 * it, {@code n / rate} after the end of the previous chunk's share. Time the budget sat unused
 * is credited up to {@link #MAX_CREDIT_NANOS} only: enough that the time a chunk spends on the
 * wire and on the follower's disk counts against its own share rather than adding to the next
 * (measured: without it a 1 MiB/s copy ran at 0.86 of its rate on a busy machine), and small
 * enough that a copy never starts more than a quarter second ahead of the rate (a burst
 * allowance of a second would let a short copy run far faster than asked, which an admin who
 * throttled a move to spare a busy disk did not want). Guava's {@code RateLimiter} does the opposite (it
 * lets the first request through and makes the next one pay) and sleeps uninterruptibly, so a
 * node stopping mid-copy at a low rate would hang in it; hence this small class.
 *
 * <p>A new rate applies at once, also to chunks waiting now: they are charged again at the
 * new rate from the moment it is set (a raised throttle speeds up a waiting copy; the debt
 * of chunks already sent is forgiven, which may let at most one chunk per copy through early).
 * A rate of 0 means no throttle.
 *
 * <p>Thread-safe; waits release the lock. The clock is injected ({@code nanos}, monotonic) so
 * that tests can check the arithmetic of {@link #reserve} without waiting.
 */
public final class CopyThrottle {

  /** The most unused budget time saved up for the next chunk. */
  static final long MAX_CREDIT_NANOS = 250_000_000L;

  private final LongSupplier nanos;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  /** Guarded by lock. 0: none. */
  private long bytesPerSecond;
  /** When the budget has paid for every byte reserved so far; guarded by lock. */
  private long paidUntilNanos;
  /** Bumped by every change of the rate; guarded by lock. */
  private long generation;

  public CopyThrottle(LongSupplier nanos) {
    this.nanos = nanos;
  }

  /** Sets the rate ({@code 0} removes the throttle); waiting chunks are charged again. */
  public void setRate(long newBytesPerSecond) {
    if (newBytesPerSecond < 0) {
      throw new IllegalArgumentException("a rate must not be negative, was " + newBytesPerSecond);
    }
    lock.lock();
    try {
      if (newBytesPerSecond == bytesPerSecond) {
        return;
      }
      bytesPerSecond = newBytesPerSecond;
      paidUntilNanos = nanos.getAsLong();
      generation++;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** The rate in force, in bytes per second; 0 when there is no throttle. */
  public long rate() {
    lock.lock();
    try {
      return bytesPerSecond;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Reserves {@code bytes} of the budget and says how long, from now, the caller must wait
   * before sending them (0 without a throttle).
   */
  long reserve(long bytes) {
    lock.lock();
    try {
      if (bytesPerSecond == 0) {
        return 0;
      }
      long now = nanos.getAsLong();
      long start = Math.max(now - MAX_CREDIT_NANOS, paidUntilNanos);
      paidUntilNanos = start + (long) (bytes * 1e9 / bytesPerSecond);
      return paidUntilNanos - now;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until the budget has paid for {@code bytes}; returns at once without a throttle.
   *
   * @throws InterruptedException if the node stops meanwhile
   */
  public void acquire(long bytes) throws InterruptedException {
    lock.lock();
    try {
      long seen = generation;
      long deadline = nanos.getAsLong() + reserve(bytes);
      while (true) {
        long left = deadline - nanos.getAsLong();
        if (left <= 0) {
          return;
        }
        changed.await(Math.min(left, TimeUnit.SECONDS.toNanos(1)), TimeUnit.NANOSECONDS);
        if (generation != seen) {
          seen = generation;
          deadline = nanos.getAsLong() + reserve(bytes);
        }
      }
    } finally {
      lock.unlock();
    }
  }
}
