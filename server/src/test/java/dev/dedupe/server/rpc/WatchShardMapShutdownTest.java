package dev.dedupe.server.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.config.ServerConfig;
import dev.dedupe.server.core.StandaloneDirectory;
import dev.dedupe.server.ops.ServerMetrics;
import dev.dedupe.server.testing.ManualClock;
import dev.dedupe.server.testing.StorageFixture;
import dev.dedupe.server.testing.TestConfigs;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.WatchShardMapRequest;
import dev.dedupe.v1.WatchShardMapResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stopping the API listener while clients watch the shard map, over Netty on loopback. A watch
 * never ends by itself, so unless shutdown ends it, the server waits out its whole grace
 * period on every stop (the Java client always watches).
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class WatchShardMapShutdownTest {

  /** Far longer than a stop may take, so that waiting it out cannot pass for a prompt stop. */
  private static final long GRACE_MILLIS = 30_000;

  @TempDir Path dir;

  @Test
  void shutdownCompletesOpenWatchesInsteadOfWaitingOutTheGrace() throws Exception {
    ServerConfig config = TestConfigs.forDataDir(dir, Map.of());
    try (StorageFixture storage = new StorageFixture(config, new ManualClock(1_795_428_000_000L));
        ServerMetrics metrics = new ServerMetrics(
            storage.retention, config.windows(), storage.shards, storage.resources)) {
      DedupeGrpcService service = new DedupeGrpcService(storage.engine,
          new RequestValidator(config.limits()), metrics, Runnable::run,
          new StandaloneDirectory(storage.shards, () -> "127.0.0.1:0"));
      GrpcServer grpc = new GrpcServer(
          NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)), service,
          config.limits().maxRequestBytes()).start();
      ManagedChannel channel =
          NettyChannelBuilder.forAddress("127.0.0.1", grpc.port()).usePlaintext().build();
      try {
        CompletableFuture<WatchShardMapResponse> first = new CompletableFuture<>();
        CompletableFuture<Status> ended = new CompletableFuture<>();
        DedupeServiceGrpc.newStub(channel).watchShardMap(WatchShardMapRequest.getDefaultInstance(),
            new StreamObserver<>() {
              @Override
              public void onNext(WatchShardMapResponse map) {
                first.complete(map);
              }

              @Override
              public void onError(Throwable t) {
                ended.complete(Status.fromThrowable(t));
              }

              @Override
              public void onCompleted() {
                ended.complete(Status.OK);
              }
            });
        assertEquals(4, first.get(30, TimeUnit.SECONDS).getShardCount(), "the watch is open");

        long start = System.nanoTime();
        grpc.shutdown(GRACE_MILLIS);
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        assertEquals(Status.Code.OK, ended.get(30, TimeUnit.SECONDS).getCode(),
            "the server ended the watch cleanly, as the contract says, instead of cutting it off");
        assertTrue(took.toMillis() < GRACE_MILLIS / 2,
            "the stop did not wait out the grace period: it took " + took);
      } finally {
        channel.shutdownNow();
      }
    }
  }
}
