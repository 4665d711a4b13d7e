package dev.dedupe.server.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.testing.TestConfigs;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.DedupeServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ops port over real HTTP, beside a real gRPC listener. */
class OpsEndpointsTest {

  @TempDir Path dir;
  private DedupeNode node;
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void stop() {
    if (node != null) {
      node.close();
    }
  }

  @Test
  void healthAndMetricsReflectTraffic() throws Exception {
    node = DedupeNode.start(TestConfigs.forDataDir(dir, Map.of()), InstantSource.system());
    assertEquals(200, get("/health/live").statusCode());
    HttpResponse<String> ready = get("/health/ready");
    assertEquals(200, ready.statusCode());
    assertTrue(ready.body().contains("\"UP\""), ready.body());

    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", node.grpcPort()).usePlaintext().build();
    try {
      var stub = DedupeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
      stub.checkAndInsert(CheckAndInsertRequest.newBuilder()
          .setNamespace("orders").addMessageIds("a").addMessageIds("a").build());
      try {
        stub.checkAndInsert(CheckAndInsertRequest.newBuilder().setNamespace("").build());
      } catch (StatusRuntimeException expected) {
        // counted as invalid_argument below
      }
    } finally {
      channel.shutdownNow();
    }
    node.runMaintenance();

    // Both calls' counts, which are recorded just after their replies were sent.
    Exposition metrics = Exposition.scrapeUntil(node.opsPort(),
        m -> m.value("dedupe_requests_total") != null && m.value("dedupe_requests_total") >= 2);
    String text = metrics.text();
    assertEquals(1.0, metrics.value("dedupe_requests_total", "rpc", "check_and_insert", "outcome", "ok"), text);
    assertEquals(1.0, metrics.value("dedupe_requests_total", "outcome", "invalid_argument"), text);
    assertEquals(1.0, metrics.value("dedupe_ids_total", "rpc", "check_and_insert", "verdict", "new"), text);
    assertEquals(1.0, metrics.value("dedupe_ids_total", "rpc", "check_and_insert", "verdict", "duplicate"), text);
    assertNotNull(metrics.value("dedupe_request_latency_seconds_bucket", "rpc", "check_and_insert", "le", "0.001"), text);
    assertNotNull(metrics.value("dedupe_request_ids_bucket", "rpc", "check_and_insert", "le", "10.0"), text);
    assertEquals(1.0, metrics.value("dedupe_namespace_keys", "namespace", "orders"), text);
    assertEquals(86400.0, metrics.value("dedupe_namespace_effective_window_seconds", "namespace", "orders"), text);
    assertEquals(86400.0, metrics.value("dedupe_namespace_window_floor_seconds", "namespace", "orders"), text);
    assertNotNull(metrics.value("dedupe_rocksdb_stall_seconds_total"), text);
    assertNotNull(metrics.value("dedupe_disk_bytes"), text);
    assertNotNull(metrics.value("dedupe_shard_queue_depth", "shard", "3"), text);
    assertEquals(1.0, metrics.value("dedupe_shard_healthy", "shard", "0"), text);
    // The JVM's own figures, under the snake_case names of Micrometer's standard binders.
    assertTrue(metrics.value("jvm_memory_used_bytes", "area", "heap") > 0, text);
    assertTrue(metrics.value("jvm_threads_live_threads") > 0, text);

    node.close();
    node = null;
  }

  /**
   * The floor the effective window is compared with (the alert DedupeEffectiveWindowBelowFloor
   * reads both): {@code window.floor.hours}, or the namespace's own window when shorter.
   */
  @Test
  void theWindowFloorGaugeFollowsTheConfiguration() throws Exception {
    Map<Map<String, String>, Double> expected = Map.of(
        Map.of("window.floor.hours", "12"), 43200.0,
        Map.of("window.default.hours", "2"), 7200.0);
    for (var e : expected.entrySet()) {
      node = DedupeNode.start(
          TestConfigs.forDataDir(dir.resolve("floor-" + e.getValue()), e.getKey()),
          InstantSource.system());
      ManagedChannel channel =
          NettyChannelBuilder.forAddress("127.0.0.1", node.grpcPort()).usePlaintext().build();
      try {
        DedupeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
            .checkAndInsert(CheckAndInsertRequest.newBuilder()
                .setNamespace("orders").addMessageIds("a").build());
      } finally {
        channel.shutdownNow();
      }
      node.runMaintenance();
      Exposition metrics = Exposition.scrape(node.opsPort());
      assertEquals(e.getValue(),
          metrics.value("dedupe_namespace_window_floor_seconds", "namespace", "orders"),
          e.getKey() + ":\n" + metrics.text());
      node.close();
      node = null;
    }
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + node.opsPort() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
