package dev.dedupe.examples.sqs;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.examples.sqs.ChargeCardConsumer.Summary;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.config.ConfigLoader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
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
    try (DedupeNode node = startNode()) {
      String dedupe = "127.0.0.1:" + node.grpcPort();
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

  /** A real dedupe node on a free loopback port, test-sized. */
  private DedupeNode startNode() {
    Map<String, String> settings = Map.of(
        "grpc.host", "127.0.0.1", "grpc.port", "0", "ops.host", "127.0.0.1", "ops.port", "0",
        "storage.data-dir", dir.toString(), "storage.shards", "2",
        "storage.block-cache.bytes", "8MiB", "storage.write-buffer.bytes", "8MiB",
        "storage.disk-budget.bytes", "1GiB");
    return DedupeNode.start(ConfigLoader.load(null, settings, Map.of()), InstantSource.system());
  }
}
