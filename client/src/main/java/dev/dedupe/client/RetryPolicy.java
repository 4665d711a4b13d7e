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
 * @param maxAttempts attempts in all, the first included
 * @param initialBackoff the wait after the first failed attempt
 * @param maxBackoff the longest wait; doubling stops here
 * @param jitter the fraction in [0, 1] of each wait that is random: a wait of d becomes a
 *     uniformly random wait in [d * (1 - jitter), d], so that callers that failed together do
 *     not retry together
 */
record RetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff, double jitter) {

  static final Set<Status.Code> RETRYABLE = EnumSet.of(
      Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED, Status.Code.RESOURCE_EXHAUSTED);

  static boolean isRetryable(Status.Code code) {
    return RETRYABLE.contains(code);
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
