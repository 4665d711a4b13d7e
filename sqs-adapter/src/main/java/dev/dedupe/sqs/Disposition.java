package dev.dedupe.sqs;

import java.time.Instant;

/** What the consumer does with one received message once its outcome is known. */
sealed interface Disposition {

  /** Delete it: handled, a duplicate, or ran without a confirmed commit. */
  record Delete() implements Disposition {}

  /** Send it to the dead-letter queue, then delete it; {@code reason} as counted. */
  record DeadLetter(String reason) implements Disposition {}

  /** Leave it invisible until {@code until} (plus the margin): another consumer holds it. */
  record HideUntil(Instant until) implements Disposition {}

  /** Make it visible again after the failure backoff: it failed or did not run. */
  record Retry() implements Disposition {}

  /** Keep it, and ask again once the holder's lease ends at {@code until} (InProgressPolicy.WAIT). */
  record Wait(Instant until) implements Disposition {}
}
