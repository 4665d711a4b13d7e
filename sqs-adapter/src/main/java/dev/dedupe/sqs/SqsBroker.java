package dev.dedupe.sqs;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.BatchResultErrorEntry;
import software.amazon.awssdk.services.sqs.model.ChangeMessageVisibilityBatchRequestEntry;
import software.amazon.awssdk.services.sqs.model.DeleteMessageBatchRequestEntry;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageAttributeValue;
import software.amazon.awssdk.services.sqs.model.SendMessageBatchRequestEntry;

/**
 * The consumer's writes to SQS, batched (at most one receive's ten messages per call):
 * deletes, visibility changes, and dead-lettering (send to the dead-letter queue, then delete).
 *
 * <p>No failure here is fatal or hidden: a failed entry of a batch call, or a failed call, is
 * logged and counted in {@code dedupe.sqs.broker_failures{queue,operation,code}}, and the
 * message is left to come back when its visibility ends, where dedupe decides it again (a
 * handled one is then a duplicate and deleted). An expired receipt handle
 * ({@code ReceiptHandleIsInvalid}, {@code MessageNotInflight}) is the usual such failure: the
 * message was already handed to another receive.
 *
 * <p>Thread-safe; the visibility extensions run on {@code extender}, never the caller's thread
 * (the caller is a gRPC thread that must not block).
 */
final class SqsBroker {

  private static final Logger log = LoggerFactory.getLogger(SqsBroker.class);
  /** Message attribute a dead-lettered message carries, saying why (when there is room). */
  static final String DEAD_LETTER_REASON = "dedupe-dead-letter-reason";
  private static final int MAX_MESSAGE_ATTRIBUTES = 10;

  private final SqsClient sqs;
  private final SqsConsumerConfig config;
  private final ExecutorService extender;
  private final MeterRegistry registry;
  private final Map<String, Counter> failures = new java.util.concurrent.ConcurrentHashMap<>();

  SqsBroker(SqsClient sqs, SqsConsumerConfig config, ExecutorService extender,
      MeterRegistry registry) {
    this.sqs = sqs;
    this.config = config;
    this.extender = extender;
    this.registry = registry;
  }

  /** Deletes {@code messages}; returns how many SQS confirmed. */
  int delete(List<Message> messages) {
    if (messages.isEmpty()) {
      return 0;
    }
    List<DeleteMessageBatchRequestEntry> entries = new ArrayList<>();
    for (int i = 0; i < messages.size(); i++) {
      entries.add(DeleteMessageBatchRequestEntry.builder().id(Integer.toString(i))
          .receiptHandle(messages.get(i).receiptHandle()).build());
    }
    try {
      var response = sqs.deleteMessageBatch(b -> b.queueUrl(config.queueUrl()).entries(entries));
      failed("delete", response.failed());
      return response.successful().size();
    } catch (SdkException e) {
      failedCall("delete", messages.size(), e);
      return 0;
    }
  }

  /** Sets each message's visibility to the seconds given with it. */
  void changeVisibility(Map<Message, Integer> seconds) {
    if (seconds.isEmpty()) {
      return;
    }
    List<ChangeMessageVisibilityBatchRequestEntry> entries = new ArrayList<>();
    int i = 0;
    for (Map.Entry<Message, Integer> e : seconds.entrySet()) {
      entries.add(ChangeMessageVisibilityBatchRequestEntry.builder().id(Integer.toString(i++))
          .receiptHandle(e.getKey().receiptHandle()).visibilityTimeout(e.getValue()).build());
    }
    try {
      var response = sqs.changeMessageVisibilityBatch(
          b -> b.queueUrl(config.queueUrl()).entries(entries));
      failed("change_visibility", response.failed());
    } catch (SdkException e) {
      failedCall("change_visibility", seconds.size(), e);
    }
  }

  /**
   * Sets one message's visibility, later, on the extender thread: a lease was extended while
   * its handler runs. A receipt handle gone stale is logged and counted, not fatal.
   */
  void extendLater(Message m, int seconds) {
    try {
      extender.execute(() -> {
        try {
          sqs.changeMessageVisibility(b -> b.queueUrl(config.queueUrl())
              .receiptHandle(m.receiptHandle()).visibilityTimeout(seconds));
        } catch (SdkException e) {
          failedCall("extend_visibility", 1, e);
        }
      });
    } catch (RejectedExecutionException e) {
      // Closing: the message's visibility runs its course, and its lease with it.
    }
  }

  /**
   * Sends each message to the dead-letter queue with its attributes and reason, then deletes
   * the ones sent. Returns the messages dead-lettered (sent and deleted). A message whose send
   * failed is not deleted: it comes back, and is dead-lettered then.
   */
  List<Message> deadLetter(Map<Message, String> reasons) {
    if (reasons.isEmpty()) {
      return List.of();
    }
    boolean fifoDlq = config.deadLetterQueueUrl().endsWith(".fifo");
    Map<String, Message> byEntry = new LinkedHashMap<>();
    List<SendMessageBatchRequestEntry> entries = new ArrayList<>();
    for (Map.Entry<Message, String> e : reasons.entrySet()) {
      Message m = e.getKey();
      String entryId = Integer.toString(byEntry.size());
      byEntry.put(entryId, m);
      Map<String, MessageAttributeValue> attributes = new HashMap<>(m.messageAttributes());
      if (attributes.size() < MAX_MESSAGE_ATTRIBUTES) {
        attributes.put(DEAD_LETTER_REASON, MessageAttributeValue.builder()
            .dataType("String").stringValue(e.getValue()).build());
      }
      var entry = SendMessageBatchRequestEntry.builder().id(entryId).messageBody(m.body())
          .messageAttributes(attributes);
      if (fifoDlq) {
        // The SQS MessageId: a redelivered copy dead-lettered twice is stored once.
        String group = MessageIds.groupOf(m);
        entry.messageGroupId(group == null ? "dead-letter" : group)
            .messageDeduplicationId(m.messageId());
      }
      entries.add(entry.build());
    }
    List<Message> sent = new ArrayList<>();
    try {
      var response = sqs.sendMessageBatch(
          b -> b.queueUrl(config.deadLetterQueueUrl()).entries(entries));
      failed("dead_letter_send", response.failed());
      response.successful().forEach(ok -> sent.add(byEntry.get(ok.id())));
    } catch (SdkException e) {
      failedCall("dead_letter_send", entries.size(), e);
      return List.of();
    }
    delete(sent);
    return sent;
  }

  private void failed(String operation, List<BatchResultErrorEntry> errors) {
    for (BatchResultErrorEntry e : errors) {
      count(operation, e.code());
      if (isStaleReceipt(e.code(), e.message())) {
        log.info("{} on {}: entry {} {} ({}); the message went back to the queue and will be"
            + " decided again", operation, config.queueUrl(), e.id(), e.code(), e.message());
      } else {
        log.warn("{} on {}: entry {} failed: {} ({}, sender fault {})", operation,
            config.queueUrl(), e.id(), e.code(), e.message(), e.senderFault());
      }
    }
  }

  private void failedCall(String operation, int messages, SdkException e) {
    String code = e instanceof software.amazon.awssdk.awscore.exception.AwsServiceException ase
        && ase.awsErrorDetails() != null && ase.awsErrorDetails().errorCode() != null
        ? ase.awsErrorDetails().errorCode() : e.getClass().getSimpleName();
    for (int i = 0; i < messages; i++) {
      count(operation, code);
    }
    if (isStaleReceipt(code, e.getMessage())) {
      log.info("{} on {}: {}; the message went back to the queue", operation, config.queueUrl(),
          code);
    } else {
      log.warn("{} on {} failed for {} message(s); they come back when their visibility ends",
          operation, config.queueUrl(), messages, e);
    }
  }

  /**
   * Whether an error says the receipt handle is no longer good: the message was received again
   * (or its visibility ended). SQS says so with its own codes, or with InvalidParameterValue
   * naming the receipt handle.
   */
  static boolean isStaleReceipt(String code, String message) {
    if (code == null) {
      return false;
    }
    return code.contains("ReceiptHandleIsInvalid") || code.contains("MessageNotInflight")
        || (code.contains("InvalidParameterValue") && message != null
            && message.toLowerCase(java.util.Locale.ROOT).contains("receipt"));
  }

  private void count(String operation, String code) {
    failures.computeIfAbsent(operation + "/" + code, k -> Counter
        .builder("dedupe.sqs.broker_failures")
        .description("SQS calls or batch entries that failed, by operation and error code")
        .tags("queue", SqsConsumerConfig.queueName(config.queueUrl()), "operation", operation,
            "code", code)
        .register(registry)).increment();
  }

  /** Failures counted so far for {@code operation}, over all codes; for tests and logs. */
  long failures(String operation) {
    return failures.entrySet().stream().filter(e -> e.getKey().startsWith(operation + "/"))
        .mapToLong(e -> (long) e.getValue().count()).sum();
  }
}
