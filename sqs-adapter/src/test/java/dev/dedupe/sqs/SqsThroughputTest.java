package dev.dedupe.sqs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.dedupe.client.DedupeClient;
import dev.dedupe.server.testing.Conditions;
import dev.dedupe.server.testing.LoopbackNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.DeleteMessageBatchRequestEntry;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.SendMessageBatchRequestEntry;

/**
 * Messages per second through DedupeSqsConsumer against a plain receive/handle/delete loop
 * without dedupe, both on in-process ElasticMQ with a trivial handler: the adapter's cost.
 * Not part of the normal build; run with {@code -Dbench=true} (command in docs/benchmarks.md).
 */
@EnabledIfSystemProperty(named = "bench", matches = "true")
class SqsThroughputTest {

  static final int MESSAGES = Integer.getInteger("bench.messages", 5000);

  @TempDir Path dir;

  @Test
  void adapterAgainstPlainLoop() throws Exception {
    try (ElasticMq mq = ElasticMq.start(); SqsClient sqs = mq.client();
        LoopbackNode node = LoopbackNode.start(dir);
        DedupeClient dedupe = DedupeClient.builder().target(node.address()).build()) {
      String dlq = ElasticMq.createQueue(sqs, "bench-dlq");
      for (int loops : new int[] {1, 4}) {
        String plainQueue = ElasticMq.createQueue(sqs, "plain-" + loops);
        fill(sqs, plainQueue);
        double plain = plain(sqs, plainQueue, loops);
        String adapterQueue = ElasticMq.createQueue(sqs, "adapter-" + loops);
        fill(sqs, adapterQueue);
        double adapter = adapter(sqs, dedupe, adapterQueue, dlq, loops);
        System.out.printf("sqs throughput, %d messages, %d receive loop(s): plain %.0f msg/s,"
            + " DedupeSqsConsumer %.0f msg/s (%.0f%%)%n", MESSAGES, loops, plain, adapter,
            100 * adapter / plain);
      }
    }
  }

  private static void fill(SqsClient sqs, String url) {
    for (int i = 0; i < MESSAGES; i += 10) {
      List<SendMessageBatchRequestEntry> entries = new ArrayList<>();
      for (int j = i; j < Math.min(i + 10, MESSAGES); j++) {
        entries.add(SendMessageBatchRequestEntry.builder().id(Integer.toString(j - i))
            .messageBody("order " + j).build());
      }
      sqs.sendMessageBatch(b -> b.queueUrl(url).entries(entries));
    }
  }

  private static double plain(SqsClient sqs, String url, int loops) throws Exception {
    AtomicInteger done = new AtomicInteger();
    long start = System.nanoTime();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < loops; t++) {
      Thread thread = new Thread(() -> {
        while (done.get() < MESSAGES) {
          List<Message> batch = sqs.receiveMessage(b -> b.queueUrl(url).maxNumberOfMessages(10)
              .waitTimeSeconds(1)).messages();
          if (batch.isEmpty()) {
            continue;
          }
          List<DeleteMessageBatchRequestEntry> entries = new ArrayList<>();
          for (int i = 0; i < batch.size(); i++) {
            entries.add(DeleteMessageBatchRequestEntry.builder().id(Integer.toString(i))
                .receiptHandle(batch.get(i).receiptHandle()).build());
          }
          sqs.deleteMessageBatch(b -> b.queueUrl(url).entries(entries));
          done.addAndGet(batch.size());
        }
      });
      thread.start();
      threads.add(thread);
    }
    for (Thread thread : threads) {
      thread.join();
    }
    return MESSAGES / ((System.nanoTime() - start) / 1e9);
  }

  private static double adapter(SqsClient sqs, DedupeClient dedupe, String url, String dlq,
      int loops) throws Exception {
    AtomicInteger done = new AtomicInteger();
    long start = System.nanoTime();
    try (DedupeSqsConsumer consumer = DedupeSqsConsumer.builder().queueUrl(url).sqs(sqs)
        .dedupe(dedupe).deadLetterQueueUrl(dlq).waitTime(Duration.ofSeconds(1)).consumers(loops)
        .handler(m -> {
          done.incrementAndGet();
          return null;
        }).build()) {
      consumer.start();
      Conditions.await("all handled", () -> consumer.metrics().count("handled") >= MESSAGES);
      double rate = MESSAGES / ((System.nanoTime() - start) / 1e9);
      assertEquals(MESSAGES, done.get());
      return rate;
    }
  }
}
