package dev.dedupe.sqs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.dedupe.client.DedupeClient;
import dev.dedupe.server.testing.Conditions;
import dev.dedupe.server.testing.LoopbackNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.MessageAttributeValue;

/** The README's "Queue consumers" example, copied verbatim (keep them in step), run. */
class ReadmeExampleTest {

  @TempDir Path dir;
  private final List<String> charged = new CopyOnWriteArrayList<>();

  private byte[] charge(String body) {
    charged.add(body);
    return null;
  }

  @Test
  void theReadmeConsumerChargesEachOrderOnce() throws Exception {
    try (ElasticMq mq = ElasticMq.start(); SqsClient sqs = mq.client();
        LoopbackNode node = LoopbackNode.start(dir);
        DedupeClient dedupe = DedupeClient.builder().target(node.address()).build()) {
      String queueUrl = ElasticMq.createQueue(sqs, "payments");
      String dlqUrl = ElasticMq.createQueue(sqs, "payments-dlq");
      for (int i = 0; i < 2; i++) { // a producer's retry: the same order twice
        sqs.sendMessage(b -> b.queueUrl(queueUrl).messageBody("order 7 for 10 EUR")
            .messageAttributes(Map.of("order-id", MessageAttributeValue.builder()
                .dataType("String").stringValue("7").build())));
      }

      // --- README ---
      DedupeSqsConsumer consumer = DedupeSqsConsumer.builder()
          .queueUrl(queueUrl)                      // namespace: the queue's name
          .sqs(sqs)
          .dedupe(dedupe)
          .idAttribute("order-id")                 // else MessageDeduplicationId (FIFO), MessageId
          .deadLetterQueueUrl(dlqUrl)              // conflicts, ids missing, failing past the limit
          .handler(message -> charge(message.body()))
          .build();
      consumer.start();                            // close() finishes the batch in hand, then stops
      // --- end ---

      Conditions.await("queue drained", () -> ElasticMq.backlog(sqs, queueUrl) == 0);
      consumer.close();
      assertEquals(List.of("order 7 for 10 EUR"), charged);
      assertEquals("payments", consumer.namespace());
    }
  }
}
