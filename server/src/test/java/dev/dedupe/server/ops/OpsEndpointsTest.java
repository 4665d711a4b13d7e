package dev.dedupe.server.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

    String metrics = get("/metrics").body();
    assertTrue(metrics.contains("dedupe_requests_total{outcome=\"ok\",rpc=\"check_and_insert\""), metrics);
    assertTrue(metrics.contains("outcome=\"invalid_argument\""), metrics);
    assertTrue(metrics.contains("dedupe_ids_total{rpc=\"check_and_insert\",scope=\"application\",verdict=\"new\",} 1.0"), metrics);
    assertTrue(metrics.contains("dedupe_ids_total{rpc=\"check_and_insert\",scope=\"application\",verdict=\"duplicate\",} 1.0"), metrics);
    assertTrue(metrics.contains("dedupe_request_latency_seconds_bucket{"), metrics);
    assertTrue(metrics.contains("dedupe_request_ids_bucket{"), metrics);
    assertTrue(metrics.contains("dedupe_namespace_keys{namespace=\"orders\",scope=\"application\",} 1.0"), metrics);
    assertTrue(metrics.contains("dedupe_namespace_effective_window_seconds{namespace=\"orders\""), metrics);
    assertTrue(metrics.contains("dedupe_rocksdb_stall_micros"), metrics);
    assertTrue(metrics.contains("dedupe_disk_bytes"), metrics);
    assertTrue(metrics.contains("dedupe_shard_queue_depth{scope=\"application\",shard=\"3\",}"), metrics);
    assertTrue(metrics.contains("dedupe_shard_healthy{scope=\"application\",shard=\"0\",} 1.0"), metrics);

    node.close();
    node = null;
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + node.opsPort() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
