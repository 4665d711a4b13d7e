package dev.dedupe.client;

import io.grpc.Status;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * When and how long to wait before trying an RPC again.
 *
 * <p>Only UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED are retried: they say nothing
 * was decided, or that a retry with the same attempt token gets the same answer (the server
 * answers ids its token recorded with NEW, marked replay). INVALID_ARGUMENT and
 * FAILED_PRECONDITION would be refused again; anything else is unexpected and goes to the
 * caller rather than being hidden by retries.
 *
 * <p>A call stops retrying at whichever comes first: {@code maxAttempts} attempts, or the end
 * of its {@code budget}, counted from its first attempt. The budget is what a caller relies on
 * while a cluster changes shape (a leader hands over, a node restarts): such a change makes a
 * shard refuse calls for a time that depends on the machines, not on a number of attempts, so
 * an attempt count alone gave up within about 0.35 s and surfaced errors on a busy machine.
 *
 * @param maxAttempts attempts in all, the first included
 * @param budget how long after its first attempt a call may still start another one; the
 *     last backoff is cut short to end within it
 * @param initialBackoff the wait after the first failed attempt
 * @param maxBackoff the longest wait; doubling stops here
 * @param jitter the fraction in [0, 1] of each wait that is random: a wait of d becomes a
 *     uniformly random wait in [d * (1 - jitter), d], so that callers that failed together do
 *     not retry together
 */
record RetryPolicy(int maxAttempts, Duration budget, Duration initialBackoff, Duration maxBackoff,
    double jitter) {

  static final Set<Status.Code> RETRYABLE = EnumSet.of(
      Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED, Status.Code.RESOURCE_EXHAUSTED);

  static boolean isRetryable(Status.Code code) {
    return RETRYABLE.contains(code);
  }

  /** When a call whose first attempt started at {@code startNanos} may no longer retry. */
  long retryUntilNanos(long startNanos) {
    return startNanos + budget.toNanos();
  }

  /**
   * Whether a call that has made {@code attempt} attempts and may retry until
   * {@code retryUntilNanos} may make another one now.
   */
  boolean mayRetry(int attempt, long nowNanos, long retryUntilNanos) {
    return attempt < maxAttempts && nowNanos - retryUntilNanos < 0;
  }

  /**
   * The wait before the next attempt of such a call: the backoff, cut short so that the last
   * attempt still starts within the budget.
   */
  Duration backoff(int failedAttempts, long nowNanos, long retryUntilNanos) {
    return Duration.ofNanos(Math.max(0,
        Math.min(backoff(failedAttempts).toNanos(), retryUntilNanos - nowNanos)));
  }

  /** The wait after {@code failedAttempts} (1 or more) attempts have failed. */
  Duration backoff(int failedAttempts) {
    long initial = initialBackoff.toNanos();
    long max = maxBackoff.toNanos();
    int doublings = Math.min(failedAttempts - 1, 62);
    long base = initial > (max >> doublings) ? max : Math.min(max, initial << doublings);
    double factor = 1.0 - jitter * ThreadLocalRandom.current().nextDouble();
    return Duration.ofNanos((long) (base * factor));
  }
}
