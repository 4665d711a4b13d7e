package dev.dedupe.server.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.testing.TestConfigs;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.DedupeServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two nodes in one JVM, as {@code bin/dedupe dev --nodes 3} runs them: each ops port reports its
 * own node's figures, as it would in production with one node per process (issue 9).
 */
class PerNodeMetricsTest {

  @TempDir Path dirA;
  @TempDir Path dirB;
  private DedupeNode a;
  private DedupeNode b;

  @AfterEach
  void stop() {
    if (a != null) {
      a.close();
    }
    if (b != null) {
      b.close();
    }
  }

  @Test
  void idsSentToOneNodeShowOnlyOnItsOpsPort() throws Exception {
    a = DedupeNode.start(TestConfigs.forDataDir(dirA, Map.of()), InstantSource.system());
    b = DedupeNode.start(TestConfigs.forDataDir(dirB, Map.of()), InstantSource.system());

    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", a.grpcPort()).usePlaintext().build();
    try {
      DedupeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .checkAndInsert(CheckAndInsertRequest.newBuilder().setNamespace("orders")
              .addMessageIds("x").addMessageIds("y").addMessageIds("z").build());
    } finally {
      channel.shutdownNow();
    }
    a.runMaintenance();
    b.runMaintenance();

    // Verdicts are counted before the reply is sent, and the figures were read by the
    // maintenance passes above, so both scrapes are settled.
    Exposition scrapeA = Exposition.scrape(a.opsPort());
    Exposition scrapeB = Exposition.scrape(b.opsPort());
    assertEquals(3.0, scrapeA.value("dedupe_ids_total", "rpc", "check_and_insert", "verdict", "new"),
        scrapeA.text());
    assertNull(scrapeB.value("dedupe_ids_total", "rpc", "check_and_insert", "verdict", "new"),
        "node B was sent nothing:\n" + scrapeB.text());
    assertEquals(3.0, scrapeA.value("dedupe_keys"), scrapeA.text());
    assertEquals(0.0, scrapeB.value("dedupe_keys"), scrapeB.text());
    assertEquals(3.0, scrapeA.value("dedupe_namespace_keys", "namespace", "orders"), scrapeA.text());
    assertNull(scrapeB.value("dedupe_namespace_keys", "namespace", "orders"), scrapeB.text());

    // Closing one node leaves the other's meters in place.
    a.close();
    a = null;
    assertEquals(0.0, Exposition.scrape(b.opsPort()).value("dedupe_keys"));
  }
}
