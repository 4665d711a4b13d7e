package dev.dedupe.examples.sqs;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.dedupe.client.DedupeClient;
import dev.dedupe.client.DedupeException;
import dev.dedupe.client.EachOutcome;
import dev.dedupe.sqs.DedupeSqsConsumer;
import java.io.PrintStream;
import java.net.URI;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.elasticmq.rest.sqs.SQSRestServer;
import org.elasticmq.rest.sqs.SQSRestServerBuilder;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageAttributeValue;

/**
 * Charges a card once per payment message, even when a producer publishes a payment twice or
 * SQS delivers a message again.
 *
 * <pre>
 * bin/dedupe dev &amp;     # a dedupe node on 127.0.0.1:50051
 * ./mvnw -q -pl examples/sqs-charge-card -am test-compile exec:exec
 * </pre>
 *
 * <p>Options ({@code -Dexample.args="..."}): {@code --dedupe HOST:PORT} (default
 * 127.0.0.1:50051); {@code --sqs-endpoint URL}, an SQS to use instead of the ElasticMQ this
 * process starts (real AWS: {@code https://sqs.REGION.amazonaws.com}, with the SDK's default
 * credentials and region).
 *
 * <p>Run it twice against one node and the second run charges nothing: the node remembers each
 * payment id for the namespace's window (24 h by default), and every message is a duplicate.
 */
public final class ChargeCardConsumer {

  static final String QUEUE = "payments-example-sqs";
  /**
   * The exit status when the example could not run (a service did not answer, a bad option)
   * and said why in one line.
   */
  static final int NOT_RUN = 3;

  record Payment(String id, String body) {}

  static final Payment P1 = new Payment("pay-1001", "12.50 EUR, card ending 4242");
  static final Payment P2 = new Payment("pay-1002", "40.00 EUR, card ending 0005");
  static final Payment P3 = new Payment("pay-1003", "7.99 EUR, card ending 4444");
  /** What the producer sends: P1 and P2 twice, as a producer's retry after a timeout would. */
  static final List<Payment> SENT = List.of(P1, P2, P1, P3, P2);

  /** What a run did: every message charged or skipped as a duplicate, or not (timed out). */
  record Summary(int charged, int duplicates, boolean allSettled, FakeCardGateway gateway) {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options = options(args, "--dedupe", "--sqs-endpoint");
    String dedupe = options.getOrDefault("--dedupe", "127.0.0.1:50051");
    String endpoint = options.get("--sqs-endpoint");
    if (endpoint == null) {
      SQSRestServer elasticMq = SQSRestServerBuilder.withInterface("127.0.0.1").withDynamicPort().start();
      endpoint = "http://127.0.0.1:" + elasticMq.waitUntilStarted().localAddress().getPort();
      System.out.println("SQS: ElasticMQ in this process at " + endpoint);
    }
    int status = NOT_RUN;
    try {
      status = run(dedupe, endpoint, System.out).allSettled() ? 0 : 1;
    } catch (DedupeException e) {
      System.out.println("no dedupe node answers at " + dedupe + " (" + e.getMessage()
          + "): start one with `bin/dedupe dev`, or pass --dedupe HOST:PORT");
    } catch (SdkException e) {
      System.out.println("SQS at " + endpoint + " failed: " + e.getMessage());
    }
    System.exit(status); // also ends the in-process ElasticMQ, if any
  }

  /** Sends {@link #SENT} to the queue, consumes it with a DedupeSqsConsumer, prints each line. */
  static Summary run(String dedupeAddress, String sqsEndpoint, PrintStream out)
      throws InterruptedException {
    try (SqsClient sqs = sqsClient(sqsEndpoint);
        DedupeClient dedupe = DedupeClient.builder().target(dedupeAddress).build()) {
      dedupe.check(QUEUE, "is-anyone-there"); // fails at once without a node
      String queueUrl = sqs.createQueue(b -> b.queueName(QUEUE)).queueUrl();
      String dlqUrl = sqs.createQueue(b -> b.queueName(QUEUE + "-dlq")).queueUrl();
      for (Payment p : SENT) {
        sqs.sendMessage(b -> b.queueUrl(queueUrl).messageBody(p.body()).messageAttributes(
            Map.of("payment-id", MessageAttributeValue.builder().dataType("String")
                .stringValue(p.id()).build())));
      }
      out.printf("sent %d payment messages to %s: %s and %s twice, as a producer's retry would%n",
          SENT.size(), QUEUE, P1.id(), P2.id());

      FakeCardGateway gateway = new FakeCardGateway();
      AtomicInteger charged = new AtomicInteger();
      AtomicInteger duplicates = new AtomicInteger();
      CountDownLatch settled = new CountDownLatch(SENT.size());
      DedupeSqsConsumer consumer = DedupeSqsConsumer.builder()
          .queueUrl(queueUrl)                    // the dedupe namespace: the queue's name
          .deadLetterQueueUrl(dlqUrl)
          .sqs(sqs)
          .dedupe(dedupe)
          .idAttribute("payment-id")             // the producer's id, the same on its retries
          .handler(message -> {                  // runs once per payment id
            String paymentId = message.messageAttributes().get("payment-id").stringValue();
            // The payment id is also the gateway's idempotency key. Should this process die
            // after the charge and before dedupe commits it, the message comes back once the
            // lease runs out, and this rerun gets the first charge back instead of a second.
            String chargeId = gateway.charge(paymentId, message.body());
            return chargeId.getBytes(UTF_8);     // committed with the id: duplicates read it
          })
          .onOutcome(outcome -> {
            switch (outcome) {
              case EachOutcome.Executed<Message> e -> {
                charged.incrementAndGet();
                out.printf("%s  charged %s: %s%n", e.messageId(), e.message().body(),
                    new String(e.result(), UTF_8));
              }
              case EachOutcome.AlreadyDone<Message> d -> {
                duplicates.incrementAndGet();
                out.printf("%s  skipped duplicate: already charged as %s%n", d.messageId(),
                    new String(d.result(), UTF_8));
              }
              default -> {
                out.printf("%s  %s: comes back later%n", outcome.messageId(),
                    outcome.getClass().getSimpleName());
                return; // not settled yet
              }
            }
            settled.countDown();
          })
          .build();
      consumer.start();
      boolean allSettled = settled.await(60, TimeUnit.SECONDS);
      consumer.close();

      out.printf("%d charged, %d duplicates skipped; the gateway was asked %d times%s%n",
          charged.get(), duplicates.get(), gateway.requests().size(),
          allSettled ? "" : "; gave up waiting for " + settled.getCount() + " more");
      if (charged.get() == 0 && duplicates.get() > 0) {
        out.println("(every payment was charged by an earlier run against this dedupe node)");
      }
      return new Summary(charged.get(), duplicates.get(), allSettled, gateway);
    }
  }

  /** An SQS client for the endpoint: a loopback one (ElasticMQ) takes any credentials. */
  static SqsClient sqsClient(String endpoint) {
    URI uri = URI.create(endpoint);
    var builder = SqsClient.builder().endpointOverride(uri);
    if (uri.getHost().equals("127.0.0.1") || uri.getHost().equals("localhost")) {
      builder.region(Region.US_EAST_1).credentialsProvider(
          StaticCredentialsProvider.create(AwsBasicCredentials.create("x", "x")));
    }
    return builder.build();
  }

  /** {@code --name value} pairs of the given names. */
  private static Map<String, String> options(String[] args, String... names) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i < args.length; i += 2) {
      if (!List.of(names).contains(args[i]) || i + 1 == args.length) {
        System.out.println("usage: ChargeCardConsumer [--dedupe HOST:PORT] [--sqs-endpoint URL]");
        System.exit(NOT_RUN);
      }
      options.put(args[i], args[i + 1]);
    }
    return options;
  }
}
