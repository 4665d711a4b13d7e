package dev.dedupe.examples.rabbitmq;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.examples.rabbitmq.ChargeCardConsumer.Summary;
import dev.dedupe.server.testing.LoopbackNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The example, run as its main runs it: a real dedupe node, the real adapter, and the real
 * broker the rabbitmq-adapter tests use (DEDUPE_RABBITMQ_HOST/_PORT, default 127.0.0.1:5673).
 * Without one it skips with one line; under CI=true it fails.
 */
class ChargeCardConsumerTest {

  @TempDir Path dir;

  @Test
  void chargesEachPaymentOnceAndReportsTheRepeatsAsDuplicates() throws Exception {
    String amqp = requireBroker();
    try (LoopbackNode node = LoopbackNode.start(dir)) {
      String dedupe = node.address();
      ByteArrayOutputStream printed = new ByteArrayOutputStream();

      Summary first = ChargeCardConsumer.run(dedupe, amqp, new PrintStream(printed, true, UTF_8));
      String lines = printed.toString(UTF_8);
      assertTrue(first.allSettled(), lines);
      assertEquals(List.of("pay-1001", "pay-1002", "pay-1003"),
          first.gateway().requests().stream().sorted().toList(),
          "one charge request per payment: " + lines);
      assertEquals(3, first.charged(), lines);
      assertEquals(2, first.duplicates(), lines);
      for (String payment : List.of("pay-1001", "pay-1002")) {
        String chargeId = first.gateway().charge(payment, "the same key again");
        assertTrue(lines.contains(payment + "  skipped duplicate: already charged as " + chargeId),
            "a repeat of " + payment + " shows its first charge " + chargeId + ": " + lines);
      }

      // A second run against the same node: every payment is a duplicate of the first run's.
      Summary second = ChargeCardConsumer.run(dedupe, amqp, new PrintStream(printed, true, UTF_8));
      assertTrue(second.allSettled(), printed.toString(UTF_8));
      assertEquals(List.of(), second.gateway().requests());
      assertEquals(5, second.duplicates());
    }
  }

  /** The broker's AMQP URI; aborts (skips) the test with one line when none answers. */
  private static String requireBroker() {
    String host = setting("DEDUPE_RABBITMQ_HOST", "127.0.0.1");
    int port = Integer.parseInt(setting("DEDUPE_RABBITMQ_PORT", "5673"));
    try (Socket probe = new Socket()) {
      probe.connect(new InetSocketAddress(host, port), 3_000);
    } catch (IOException e) {
      String missing = "no RabbitMQ broker at " + host + ":" + port + " (" + e.getMessage()
          + "); start one with rabbitmq-adapter/src/test/broker/start-rabbitmq.sh";
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        Assertions.fail("CI=true and " + missing);
      }
      Assumptions.abort("the RabbitMQ example's test is skipped: " + missing);
    }
    return "amqp://guest:guest@" + host + ":" + port;
  }

  private static String setting(String env, String dflt) {
    String v = System.getenv(env);
    return v == null || v.isBlank() ? dflt : v;
  }
}
