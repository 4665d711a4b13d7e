package dev.dedupe.sqs;

import dev.dedupe.client.DedupeClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import software.amazon.awssdk.services.sqs.SqsClient;

/**
 * A consumer process for {@link ConsumerKillTest}: handles a queue, writing each effect to a
 * ledger file, and for the victim id writes its effect and then blocks, so that the test's
 * SIGKILL falls between that effect and its commit.
 *
 * <p>Arguments: ElasticMQ endpoint, queue URL, dead-letter queue URL, dedupe address, ledger
 * file, victim id, namespace.
 */
public final class KilledConsumerMain {

  static final Duration LEASE = Duration.ofSeconds(2);
  static final String ID = "order-id";

  public static void main(String[] args) throws Exception {
    SqsClient sqs = ElasticMq.clientFor(args[0]);
    DedupeClient dedupe = DedupeClient.builder().target(args[3]).build();
    Path ledger = Path.of(args[4]);
    String victim = args[5];
    DedupeSqsConsumer consumer = DedupeSqsConsumer.builder().queueUrl(args[1])
        .deadLetterQueueUrl(args[2]).sqs(sqs).dedupe(dedupe).namespace(args[6]).idAttribute(ID)
        .lease(LEASE).waitTime(Duration.ofSeconds(1))
        .handler(m -> {
          String id = m.messageAttributes().get(ID).stringValue();
          append(ledger, "effect " + id);
          if (id.equals(victim)) {
            append(ledger, "blocked " + id);
            new CountDownLatch(1).await(); // until SIGKILL
          }
          return null;
        }).build();
    consumer.start();
    Thread.currentThread().join();
  }

  /** One write per line: a SIGKILL after it returns does not lose the line. */
  static synchronized void append(Path ledger, String line) {
    try {
      Files.writeString(ledger, line + "\n", StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the ledger " + ledger, e);
    }
  }
}
