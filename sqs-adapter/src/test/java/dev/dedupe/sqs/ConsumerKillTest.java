package dev.dedupe.sqs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.dedupe.client.DedupeClient;
import dev.dedupe.server.testing.Conditions;
import dev.dedupe.server.testing.LoopbackNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.MessageAttributeValue;
import software.amazon.awssdk.services.sqs.model.SendMessageBatchRequestEntry;

/**
 * A consumer process killed with SIGKILL mid-handler, after the victim's side effect and
 * before its commit: its lease runs out, SQS redelivers, and a surviving consumer runs it
 * again. The ledger shows exactly that: the victim's effect twice, every other id's once
 * (including the killed process's leased but unrun messages, and the repeats).
 */
class ConsumerKillTest {

  /** Exit status of a process ended by SIGKILL (128 + 9), as the JDK reports it on Linux. */
  static final int SIGKILL_EXIT = 137;

  @TempDir Path dir;

  @Test
  void aKillBetweenEffectAndCommitIsTheOnlyRepeat() throws Exception {
    Path ledger = dir.resolve("ledger.txt");
    try (ElasticMq mq = ElasticMq.start(); SqsClient sqs = mq.client();
        LoopbackNode node = LoopbackNode.start(dir.resolve("node"))) {
      String url = ElasticMq.createQueue(sqs, "kill");
      String dlq = ElasticMq.createQueue(sqs, "kill-dlq");
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 120; i++) {
        ids.add("k" + (i < 100 ? i : i % 20)); // the last 20 repeat earlier ids
      }
      for (int i = 0; i < ids.size(); i += 10) {
        List<SendMessageBatchRequestEntry> entries = new ArrayList<>();
        for (int j = i; j < i + 10; j++) {
          entries.add(SendMessageBatchRequestEntry.builder().id(Integer.toString(j - i))
              .messageBody("body " + ids.get(j)).messageAttributes(Map.of(
                  KilledConsumerMain.ID, MessageAttributeValue.builder().dataType("String")
                      .stringValue(ids.get(j)).build())).build());
        }
        sqs.sendMessageBatch(b -> b.queueUrl(url).entries(entries));
      }
      String victim = "k50";

      Process child = startConsumer(mq.endpoint(), url, dlq, node.address(), ledger, victim);
      try {
        Conditions.await("the child blocked in the victim's handler, after its effect",
            () -> read(ledger).contains("blocked " + victim));
        child.destroyForcibly(); // SIGKILL on Linux
        assertEquals(SIGKILL_EXIT, child.waitFor());
      } finally {
        child.destroyForcibly();
      }

      try (DedupeClient dedupe = DedupeClient.builder().target(node.address()).build();
          DedupeSqsConsumer survivor = DedupeSqsConsumer.builder().queueUrl(url)
              .deadLetterQueueUrl(dlq).sqs(sqs).dedupe(dedupe).namespace("kill")
              .idAttribute(KilledConsumerMain.ID).lease(KilledConsumerMain.LEASE)
              .waitTime(Duration.ofSeconds(1))
              .handler(m -> {
                KilledConsumerMain.append(ledger, "effect "
                    + m.messageAttributes().get(KilledConsumerMain.ID).stringValue());
                return null;
              }).build()) {
        survivor.start();
        Conditions.await("queue drained", () -> ElasticMq.backlog(sqs, url) == 0);
      }

      Map<String, Integer> effects = new TreeMap<>();
      for (String line : read(ledger).split("\n")) {
        if (line.startsWith("effect ")) {
          effects.merge(line.substring("effect ".length()), 1, Integer::sum);
        }
      }
      assertEquals(100, effects.size(), "every distinct id's effect happened");
      effects.forEach((id, n) -> assertEquals(id.equals(victim) ? 2 : 1, n,
          "effects of " + id + (id.equals(victim) ? " (killed between effect and commit)" : "")));
      assertEquals(0, ElasticMq.backlog(sqs, dlq));
    }
  }

  private static Process startConsumer(String endpoint, String url, String dlq, String dedupe,
      Path ledger, String victim) throws IOException {
    String classPath = System.getProperty("surefire.test.class.path",
        System.getProperty("java.class.path"));
    String java = ProcessHandle.current().info().command()
        .orElseThrow(() -> new IllegalStateException("cannot tell which java runs this test"));
    Process p = new ProcessBuilder(java, "-Xmx192m", "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1", "-cp", classPath, KilledConsumerMain.class.getName(),
        endpoint, url, dlq, dedupe, ledger.toString(), victim, "kill")
        .redirectErrorStream(true)
        .redirectOutput(ledger.resolveSibling("child.log").toFile())
        .start();
    // Ends the child if this JVM exits first (a timeout, say).
    Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
    return p;
  }

  private static String read(Path ledger) {
    try {
      return Files.exists(ledger) ? Files.readString(ledger) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
