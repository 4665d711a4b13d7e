package dev.dedupe.examples.sqs;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.examples.sqs.ChargeCardConsumer.Summary;
import dev.dedupe.server.testing.LoopbackNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.elasticmq.rest.sqs.SQSRestServer;
import org.elasticmq.rest.sqs.SQSRestServerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example, run as its main runs it: a real dedupe node, ElasticMQ, the real adapter. */
class ChargeCardConsumerTest {

  @TempDir Path dir;

  @Test
  void chargesEachPaymentOnceAndReportsTheRepeatsAsDuplicates() throws Exception {
    SQSRestServer mq = SQSRestServerBuilder.withInterface("127.0.0.1").withDynamicPort().start();
    String sqs = "http://127.0.0.1:" + mq.waitUntilStarted().localAddress().getPort();
    try (LoopbackNode node = LoopbackNode.start(dir)) {
      String dedupe = node.address();
      ByteArrayOutputStream printed = new ByteArrayOutputStream();

      Summary run = ChargeCardConsumer.run(dedupe, sqs, new PrintStream(printed, true, UTF_8));
      String lines = printed.toString(UTF_8);
      assertTrue(run.allSettled(), lines);
      assertEquals(List.of("pay-1001", "pay-1002", "pay-1003"),
          run.gateway().requests().stream().sorted().toList(),
          "one charge request per payment: " + lines);
      assertEquals(3, run.charged(), lines);
      assertEquals(2, run.duplicates(), lines);
      for (String payment : List.of("pay-1001", "pay-1002")) {
        String chargeId = run.gateway().charge(payment, "the same key again");
        assertTrue(lines.contains(payment + "  skipped duplicate: already charged as " + chargeId),
            "a repeat of " + payment + " shows its first charge " + chargeId + ": " + lines);
      }
    } finally {
      // Not stopAndWait: that waits out the consumer's last long poll (up to 20 s), which
      // close() leaves open.
      mq.stopAndGetFuture().apply();
    }
  }
}
