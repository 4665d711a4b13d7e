package dev.dedupe.sqs;

import dev.dedupe.queue.BodyDigest;
import dev.dedupe.queue.MissingIdPolicy;
import java.nio.charset.StandardCharsets;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageAttributeValue;
import software.amazon.awssdk.services.sqs.model.MessageSystemAttributeName;

/**
 * Where a message's id comes from: the builder's function if set; else the message attribute
 * named in the builder if set; else {@code MessageDeduplicationId} on a FIFO queue; else the
 * {@code MessageId} SQS gave it. A message with no id where the consumer was told to look gets
 * the {@link MissingIdPolicy}: null (dead-letter it) or its body's digest.
 */
final class MessageIds {

  private final SqsConsumerConfig config;

  MessageIds(SqsConsumerConfig config) {
    this.config = config;
  }

  /** The message's id, or null when it has none and the policy is to dead-letter it. */
  String idOf(Message m) {
    String id = lookUp(m);
    if (id != null && !id.isEmpty()) {
      return id;
    }
    return config.missingId() == MissingIdPolicy.BODY_DIGEST ? BodyDigest.id(bodyOf(m)) : null;
  }

  private String lookUp(Message m) {
    if (config.idFunction() != null) {
      return config.idFunction().apply(m);
    }
    if (config.idAttribute() != null) {
      MessageAttributeValue v = m.messageAttributes().get(config.idAttribute());
      return v == null ? null : v.stringValue();
    }
    if (config.fifo()) {
      return m.attributes().get(MessageSystemAttributeName.MESSAGE_DEDUPLICATION_ID);
    }
    return m.messageId();
  }

  static byte[] bodyOf(Message m) {
    return m.body() == null ? new byte[0] : m.body().getBytes(StandardCharsets.UTF_8);
  }

  /** ApproximateReceiveCount, as requested on every receive (1 if SQS left it out). */
  static int receiveCount(Message m) {
    String n = m.attributes().get(MessageSystemAttributeName.APPROXIMATE_RECEIVE_COUNT);
    try {
      return n == null ? 1 : Integer.parseInt(n);
    } catch (NumberFormatException e) {
      return 1;
    }
  }

  /** The FIFO message group, or null. */
  static String groupOf(Message m) {
    return m.attributes().get(MessageSystemAttributeName.MESSAGE_GROUP_ID);
  }
}
