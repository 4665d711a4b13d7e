package dev.dedupe.sqs;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageSystemAttributeName;
import software.amazon.awssdk.services.sqs.model.ReceiveMessageRequest;

/**
 * One long-polling receive loop on its own thread: receive up to ten, process the batch, again.
 *
 * <p>Stopping: {@link #awaitBatchInHand} returns once the batch in hand (if any) is processed
 * and disposed of; the loop takes no new one after that. A long poll still open is not waited
 * for (a blocking HTTP read cannot be interrupted); what it brings back after the stop is made
 * visible again at once, not handled.
 */
final class ReceiveLoop implements Runnable {

  private static final Logger log = LoggerFactory.getLogger(ReceiveLoop.class);
  /** SQS's largest receive. */
  static final int MAX_MESSAGES = 10;

  private final SqsClient sqs;
  private final SqsConsumerConfig config;
  private final BatchProcessor processor;
  private final SqsBroker broker;
  private final CountDownLatch stopping;
  /** Held while a batch is in hand; close() takes it once to wait for that batch. */
  private final ReentrantLock inHand = new ReentrantLock();

  ReceiveLoop(SqsClient sqs, SqsConsumerConfig config, BatchProcessor processor,
      SqsBroker broker, CountDownLatch stopping) {
    this.sqs = sqs;
    this.config = config;
    this.processor = processor;
    this.broker = broker;
    this.stopping = stopping;
  }

  private ReceiveMessageRequest request() {
    return ReceiveMessageRequest.builder()
        .queueUrl(config.queueUrl())
        .maxNumberOfMessages(MAX_MESSAGES)
        .waitTimeSeconds((int) config.waitTime().toSeconds())
        // Invisible for the lease and a margin: if this process dies, the message comes back
        // after its lease has run out, and runs at once instead of finding IN_PROGRESS.
        .visibilityTimeout(SqsConsumerConfig.visibilitySeconds(config.lease()))
        .messageSystemAttributeNames(MessageSystemAttributeName.APPROXIMATE_RECEIVE_COUNT,
            MessageSystemAttributeName.MESSAGE_GROUP_ID,
            MessageSystemAttributeName.MESSAGE_DEDUPLICATION_ID)
        .messageAttributeNames("All")
        .build();
  }

  @Override
  public void run() {
    ReceiveMessageRequest request = request();
    while (stopping.getCount() > 0) {
      List<Message> batch;
      try {
        batch = sqs.receiveMessage(request).messages();
      } catch (SdkException | IllegalStateException e) {
        if (stopping.getCount() == 0) {
          return;
        }
        log.warn("receive from {} failed; trying again in a second", config.queueUrl(), e);
        awaitStop(1_000);
        continue;
      }
      if (batch.isEmpty()) {
        continue;
      }
      inHand.lock();
      try {
        if (stopping.getCount() == 0) {
          handBack(batch);
          return;
        }
        processor.process(batch);
      } catch (RuntimeException e) {
        // A bug or a closed client: the batch's messages come back when their visibility ends.
        log.error("processing a batch of {} from {} failed", batch.size(), config.queueUrl(), e);
      } finally {
        inHand.unlock();
      }
    }
  }

  /** Waits until the batch in hand, if any, is done. Call after the stop signal. */
  void awaitBatchInHand() {
    inHand.lock();
    inHand.unlock();
  }

  private void handBack(List<Message> batch) {
    Map<Message, Integer> visible = new LinkedHashMap<>();
    batch.forEach(m -> visible.put(m, 0));
    broker.changeVisibility(visible);
  }

  private void awaitStop(long millis) {
    try {
      stopping.await(millis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
