package dev.dedupe.sqs;

import dev.dedupe.queue.InProgressPolicy;
import dev.dedupe.queue.MissingIdPolicy;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;
import software.amazon.awssdk.services.sqs.model.Message;

/**
 * A {@link DedupeSqsConsumer}'s settings, frozen by its builder (where each default is
 * documented).
 *
 * @param queueUrl the queue consumed
 * @param fifo whether it is a FIFO queue (its URL ends with {@code .fifo})
 * @param namespace the dedupe namespace its ids live in
 * @param idAttribute the message attribute holding the id, or null
 * @param idFunction a function giving the id (null when it has none), or null
 * @param missingId what to do with a message that has no id
 * @param inProgress what to do with a message whose id another consumer holds
 * @param lease how long a NEW id is held for its handler (extended while it runs)
 * @param maxReceiveCount the receive count at which a failing message is dead-lettered
 * @param deadLetterQueueUrl where dead-lettered messages are sent before being deleted
 * @param waitTime the long poll's wait, 0 to 20 s
 * @param failureBackoff the visibility a failed or not-run message gets (0: at once)
 * @param consumers how many receive loops (threads) run
 */
record SqsConsumerConfig(
    String queueUrl,
    boolean fifo,
    String namespace,
    String idAttribute,
    Function<Message, String> idFunction,
    MissingIdPolicy missingId,
    InProgressPolicy inProgress,
    Duration lease,
    int maxReceiveCount,
    String deadLetterQueueUrl,
    Duration waitTime,
    Duration failureBackoff,
    int consumers) {

  /**
   * What a message's visibility runs past its lease: so that the lease, not the visibility,
   * ends first, and a redelivery finds the id free instead of IN_PROGRESS.
   */
  static final Duration VISIBILITY_MARGIN = Duration.ofSeconds(2);

  SqsConsumerConfig {
    Objects.requireNonNull(queueUrl, "queueUrl");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(missingId, "missingId");
    Objects.requireNonNull(inProgress, "inProgress");
    Objects.requireNonNull(lease, "lease");
    Objects.requireNonNull(deadLetterQueueUrl, "deadLetterQueueUrl");
    Objects.requireNonNull(waitTime, "waitTime");
    Objects.requireNonNull(failureBackoff, "failureBackoff");
  }

  /** The name at the end of a queue URL: {@code https://sqs.../123/orders.fifo} gives {@code orders.fifo}. */
  static String queueName(String queueUrl) {
    String trimmed = queueUrl.endsWith("/") ? queueUrl.substring(0, queueUrl.length() - 1)
        : queueUrl;
    return trimmed.substring(trimmed.lastIndexOf('/') + 1);
  }

  /** Whole seconds of visibility covering {@code d} plus the margin, within SQS's 0..12 h. */
  static int visibilitySeconds(Duration d) {
    long ms = Math.max(0, d.plus(VISIBILITY_MARGIN).toMillis());
    return (int) Math.min(43_200, (ms + 999) / 1000);
  }
}
