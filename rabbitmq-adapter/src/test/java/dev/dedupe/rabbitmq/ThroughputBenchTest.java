package dev.dedupe.rabbitmq;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.dedupe.client.DedupeClient;
import dev.dedupe.server.testing.Conditions;
import dev.dedupe.server.testing.LoopbackNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Messages per second through DedupeRabbitConsumer against a plain consumer (ack per message,
 * no dedupe) on the same broker, same queue settings, same prefetch. Not part of the normal
 * build: it measures the machine. Run with the command in docs/benchmarks.md ("RabbitMQ consumer")
 * ({@code -Ddedupe.rabbitmq.bench=true}, optionally {@code -Ddedupe.rabbitmq.bench.messages}).
 */
class ThroughputBenchTest {

  @TempDir Path dir;

  @Test
  void adapterAgainstPlainConsumer() throws Exception {
    Assumptions.assumeTrue(Boolean.getBoolean("dedupe.rabbitmq.bench"),
        "benchmark: run with -Ddedupe.rabbitmq.bench=true");
    ConnectionFactory factory = RabbitBroker.require();
    int n = Integer.getInteger("dedupe.rabbitmq.bench.messages", 20_000);
    int prefetch = Integer.getInteger("dedupe.rabbitmq.bench.prefetch", 50);
    try (LoopbackNode node = LoopbackNode.start(dir);
        DedupeClient client = DedupeClient.builder().target(node.address()).build();
        Connection conn = factory.newConnection("bench")) {
      Channel admin = conn.createChannel();
      for (int round = 0; round < 2; round++) {
        String plainQueue = "bench-plain-" + UUID.randomUUID();
        admin.queueDeclare(plainQueue, false, false, true, null);
        publish(admin, plainQueue, n);
        double plain = plain(conn, plainQueue, n, prefetch);
        admin.queueDelete(plainQueue);

        String dedupeQueue = "bench-dedupe-" + UUID.randomUUID();
        admin.queueDeclare(dedupeQueue, false, false, true, null);
        publish(admin, dedupeQueue, n);
        long start = System.nanoTime();
        try (DedupeRabbitConsumer c = DedupeRabbitConsumer.builder().connection(conn)
            .queue(dedupeQueue).client(client).prefetch(prefetch)
            .handler(d -> null).build().start()) {
          Conditions.await("all handled", () -> c.metrics().count("handled") == n);
        }
        double adapter = n / ((System.nanoTime() - start) / 1e9);
        admin.queueDelete(dedupeQueue);
        System.out.printf("rabbitmq bench round %d: %d messages, prefetch %d, one consumer:"
            + " plain %.0f msg/s, DedupeRabbitConsumer %.0f msg/s (%.0f%%)%n",
            round + 1, n, prefetch, plain, adapter, 100 * adapter / plain);
      }
    }
  }

  private static void publish(Channel ch, String queue, int n) throws Exception {
    ch.confirmSelect();
    for (int i = 0; i < n; i++) {
      ch.basicPublish("", queue, new AMQP.BasicProperties.Builder().messageId("m-" + i).build(),
          ("payload " + i).getBytes(UTF_8));
    }
    ch.waitForConfirmsOrDie(120_000);
  }

  /** A plain consumer: the same prefetch, one ack per message, no dedupe. */
  private static double plain(Connection conn, String queue, int n, int prefetch)
      throws Exception {
    Channel ch = conn.createChannel();
    ch.basicQos(prefetch);
    AtomicLong done = new AtomicLong();
    long start = System.nanoTime();
    ch.basicConsume(queue, false, new DefaultConsumer(ch) {
      @Override
      public void handleDelivery(String tag, Envelope env, AMQP.BasicProperties p, byte[] body)
          throws IOException {
        ch.basicAck(env.getDeliveryTag(), false);
        done.incrementAndGet();
      }
    });
    Conditions.await("all consumed", () -> done.get() == n);
    double rate = n / ((System.nanoTime() - start) / 1e9);
    ch.close();
    return rate;
  }
}
