package dev.dedupe.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.client.EachOutcome;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The adapters' shared meters: one name each, tagged by outcome; body digests. */
class ConsumerMetricsTest {

  @Test
  void outcomesAndDeadLettersAreCountedUnderTheirNames() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    ConsumerMetrics metrics = new ConsumerMetrics(registry, "sqs", "orders");
    metrics.record(new EachOutcome.AlreadyDone<>("m", "id-1", new byte[0], null));
    metrics.record(new EachOutcome.AlreadyDone<>("m", "id-2", new byte[0], null));
    metrics.record(new EachOutcome.Conflict<>("m", "id-3", null));
    metrics.deadLettered("conflict");
    assertEquals(2, metrics.count("duplicate"));
    assertEquals(1, metrics.count("conflict"));
    assertEquals(0, metrics.count("handled"));
    assertEquals(1, metrics.deadLetteredCount("conflict"));
    assertNotNull(registry.find("dedupe.consumer.messages").tags("adapter", "sqs", "queue",
        "orders", "outcome", "duplicate").counter());
    assertNotNull(registry.find("dedupe.consumer.handler").timer());
  }

  @Test
  void aBodyDigestIsAStableIdAndAFingerprintTheServiceTakes() {
    byte[] body = "{\"order\":42}".getBytes(StandardCharsets.UTF_8);
    assertEquals(BodyDigest.id(body), BodyDigest.id(body.clone()));
    assertTrue(BodyDigest.id(body).startsWith("sha256:"));
    assertEquals(32, BodyDigest.fingerprint(body).length);
  }
}
