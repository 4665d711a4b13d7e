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
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stopping the API listener while clients hold streams open, over Netty on loopback. A watch
 * never ends by itself, so unless shutdown ends it, the server waits out its whole grace
 * period on every stop (the Java client always watches the shard map).
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class WatchShardMapShutdownTest {

  /** Far longer than a stop may take, so that waiting it out cannot pass for a prompt stop. */
  private static final long GRACE_MILLIS = 30_000;

  @TempDir Path dir;
  private StorageFixture storage;
  private ServerMetrics metrics;
  private GrpcServer grpc;
  private ManagedChannel channel;

  @BeforeEach
  void start() {
    ServerConfig config = TestConfigs.forDataDir(dir, Map.of());
    storage = new StorageFixture(config, new ManualClock(1_795_428_000_000L));
    metrics = new ServerMetrics(
        new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(
            io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT),
        storage.retention, config.windows(), storage.shards, storage.resources);
    DedupeGrpcService service = new DedupeGrpcService(storage.engine,
        new RequestValidator(config.limits()), metrics, Runnable::run,
        new StandaloneDirectory(storage.shards, () -> "127.0.0.1:0"), standaloneStats(),
        new Forwarder(new StandaloneDirectory(storage.shards, () -> "127.0.0.1:0"), "",
            new PeerChannels(address -> {
              throw new AssertionError("a standalone node forwards nothing, was asked for " + address);
            }), metrics));
    grpc = new GrpcServer(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)),
        service, config.limits().maxRequestBytes()).start();
    grpc.setServing(true);
    channel = NettyChannelBuilder.forAddress("127.0.0.1", grpc.port()).usePlaintext().build();
  }

  private ClusterStats standaloneStats() {
    return new ClusterStats(storage.engine,
        new StandaloneDirectory(storage.shards, () -> "127.0.0.1:0"), "", () -> "127.0.0.1:0",
        new PeerChannels(address -> {
          throw new AssertionError("a standalone node asks no peer, was asked for " + address);
        }));
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    grpc.shutdown(0);
    metrics.close();
    storage.close();
  }

  @Test
  void shutdownCompletesOpenWatchesInsteadOfWaitingOutTheGrace() throws Exception {
    Stream<WatchShardMapResponse> watch = new Stream<>();
    DedupeServiceGrpc.newStub(channel)
        .watchShardMap(WatchShardMapRequest.getDefaultInstance(), watch);
    assertEquals(4, watch.first.get(30, TimeUnit.SECONDS).getShardCount(), "the watch is open");

    Duration took = timedShutdown();

    assertEquals(Status.Code.OK, watch.ended.get(30, TimeUnit.SECONDS).getCode(),
        "the server ended the watch cleanly, as the contract says, instead of cutting it off");
    assertTrue(took.toMillis() < GRACE_MILLIS / 2,
        "the stop did not wait out the grace period: it took " + took);
  }

  @Test
  void aHealthWatchDoesNotHoldTheStop() throws Exception {
    // grpc-java's client-side health checking keeps a Health.Watch open; the health service
    // never ends it, so the stop must not wait for it either.
    Stream<HealthCheckResponse> watch = new Stream<>();
    HealthGrpc.newStub(channel).watch(HealthCheckRequest.getDefaultInstance(), watch);
    assertEquals(ServingStatus.SERVING, watch.first.get(30, TimeUnit.SECONDS).getStatus());

    Duration took = timedShutdown();

    watch.ended.get(30, TimeUnit.SECONDS);
    assertTrue(took.toMillis() < GRACE_MILLIS / 2,
        "the stop did not wait out the grace period: it took " + took);
  }

  private Duration timedShutdown() {
    long start = System.nanoTime();
    grpc.shutdown(GRACE_MILLIS);
    return Duration.ofNanos(System.nanoTime() - start);
  }

  /** What a client hears on one stream: its first message, and how it ended. */
  private static final class Stream<M> implements StreamObserver<M> {
    final CompletableFuture<M> first = new CompletableFuture<>();
    final CompletableFuture<Status> ended = new CompletableFuture<>();

    @Override
    public void onNext(M message) {
      first.complete(message);
    }

    @Override
    public void onError(Throwable t) {
      ended.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      ended.complete(Status.OK);
    }
  }
}
