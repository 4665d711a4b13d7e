package dev.dedupe.examples.rabbitmq;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.MessageProperties;
import dev.dedupe.client.DedupeClient;
import dev.dedupe.client.DedupeException;
import dev.dedupe.client.EachOutcome;
import dev.dedupe.rabbitmq.DedupeRabbitConsumer;
import java.io.IOException;
import java.io.PrintStream;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Charges a card once per payment message, even when a producer publishes a payment twice or
 * RabbitMQ delivers a message again.
 *
 * <pre>
 * bin/dedupe dev &amp;     # a dedupe node on 127.0.0.1:50051; and a RabbitMQ broker on 5672
 * ./mvnw -q -pl examples/rabbitmq-charge-card -am test-compile exec:exec
 * </pre>
 *
 * <p>Options ({@code -Dexample.args="..."}): {@code --dedupe HOST:PORT} (default
 * 127.0.0.1:50051); {@code --amqp URI} (default amqp://guest:guest@127.0.0.1:5672).
 *
 * <p>Run it twice against one node and the second run charges nothing: the node remembers each
 * payment id for the namespace's window (24 h by default), and every message is a duplicate.
 */
public final class ChargeCardConsumer {

  static final String QUEUE = "payments-example-rabbitmq";
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
    Map<String, String> options = options(args, "--dedupe", "--amqp");
    String dedupe = options.getOrDefault("--dedupe", "127.0.0.1:50051");
    String amqp = options.getOrDefault("--amqp", "amqp://guest:guest@127.0.0.1:5672");
    ConnectionFactory broker = new ConnectionFactory();
    broker.setUri(amqp);
    try (Connection probe = broker.newConnection()) {
      // a broker answers
    } catch (IOException | TimeoutException e) {
      System.out.println("cannot connect to RabbitMQ at " + broker.getHost() + ":" + broker.getPort()
          + " (" + e + "): start one, or pass --amqp URI (this repository's test broker:"
          + " rabbitmq-adapter/src/test/broker/start-rabbitmq.sh, then"
          + " --amqp amqp://guest:guest@127.0.0.1:5673)");
      System.exit(NOT_RUN);
    }
    int status = NOT_RUN;
    try {
      status = run(dedupe, amqp, System.out).allSettled() ? 0 : 1;
    } catch (DedupeException e) {
      System.out.println("no dedupe node answers at " + dedupe + " (" + e.getMessage()
          + "): start one with `bin/dedupe dev`, or pass --dedupe HOST:PORT");
    }
    System.exit(status);
  }

  /** Publishes {@link #SENT}, consumes it with a DedupeRabbitConsumer, prints each line. */
  static Summary run(String dedupeAddress, String amqpUri, PrintStream out) throws Exception {
    ConnectionFactory factory = new ConnectionFactory();
    factory.setUri(amqpUri);
    try (Connection rabbit = factory.newConnection("dedupe-charge-card-example");
        DedupeClient dedupe = DedupeClient.builder().target(dedupeAddress).build()) {
      dedupe.check(QUEUE, "is-anyone-there"); // fails at once without a node
      try (Channel ch = rabbit.createChannel()) {
        // A quorum queue, whose rejected messages go to a dead-letter queue.
        ch.queueDeclare(QUEUE + ".dlq", true, false, false, Map.of("x-queue-type", "quorum"));
        ch.queueDeclare(QUEUE, true, false, false, Map.of("x-queue-type", "quorum",
            "x-dead-letter-exchange", "", "x-dead-letter-routing-key", QUEUE + ".dlq"));
        ch.queuePurge(QUEUE); // the example's own queue: drop what an interrupted run left
        ch.confirmSelect();
        for (Payment p : SENT) {
          ch.basicPublish("", QUEUE, MessageProperties.PERSISTENT_BASIC.builder()
              .messageId(p.id()).build(), p.body().getBytes(UTF_8));
        }
        ch.waitForConfirmsOrDie(10_000);
      }
      out.printf("sent %d payment messages to %s: %s and %s twice, as a producer's retry would%n",
          SENT.size(), QUEUE, P1.id(), P2.id());

      FakeCardGateway gateway = new FakeCardGateway();
      AtomicInteger charged = new AtomicInteger();
      AtomicInteger duplicates = new AtomicInteger();
      CountDownLatch settled = new CountDownLatch(SENT.size());
      DedupeRabbitConsumer consumer = DedupeRabbitConsumer.builder()
          .connection(rabbit)                    // the consumer opens its own channel
          .queue(QUEUE)                          // also the dedupe namespace
          .client(dedupe)
          .handler(delivery -> {                 // runs once per message_id
            String paymentId = delivery.getProperties().getMessageId();
            // The payment id is also the gateway's idempotency key. Should this process die
            // after the charge and before dedupe commits it, the broker redelivers once the
            // lease runs out, and this rerun gets the first charge back instead of a second.
            String chargeId = gateway.charge(paymentId, new String(delivery.getBody(), UTF_8));
            return chargeId.getBytes(UTF_8);     // committed with the id: duplicates read it
          })
          .onOutcome(outcome -> {
            switch (outcome) {
              case EachOutcome.Executed<Delivery> e -> {
                charged.incrementAndGet();
                out.printf("%s  charged %s: %s%n", e.messageId(),
                    new String(e.message().getBody(), UTF_8), new String(e.result(), UTF_8));
              }
              case EachOutcome.AlreadyDone<Delivery> d -> {
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
          .build()
          .start();
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

  /** {@code --name value} pairs of the given names. */
  private static Map<String, String> options(String[] args, String... names) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i < args.length; i += 2) {
      if (!List.of(names).contains(args[i]) || i + 1 == args.length) {
        System.out.println("usage: ChargeCardConsumer [--dedupe HOST:PORT] [--amqp URI]");
        System.exit(NOT_RUN);
      }
      options.put(args[i], args[i + 1]);
    }
    return options;
  }
}
