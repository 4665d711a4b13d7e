package dev.dedupe.server.cluster;

import static dev.dedupe.server.cluster.ClusterFixture.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.dedupe.server.DedupeNode;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The standard gRPC health service says what the ops port's /health/ready says: a Kubernetes
 * gRPC readiness probe must not send traffic to a node that cannot serve it yet, nor keep
 * one out long after it can. (The tests' maintenance pass runs hourly, so a status refreshed
 * only by it would stay as it was at start.)
 */
class GrpcHealthReadinessTest {

  @TempDir Path dir;

  @Test
  void aNodeWaitingForItsClusterIsNotServingUntilItIsReady() throws Exception {
    try (ClusterFixture cluster = new ClusterFixture(dir, 3, 4, 1)) {
      DedupeNode first = cluster.node(0);
      ManagedChannel channel = NettyChannelBuilder.forTarget(first.advertisedAddress())
          .usePlaintext().build();
      try {
        var health = HealthGrpc.newBlockingStub(channel);
        assertFalse(first.isReady(), "one node of three initial nodes forms no cluster");
        assertEquals(ServingStatus.NOT_SERVING, status(health),
            "gRPC health while /health/ready says not ready");

        cluster.start(1);
        cluster.start(2);
        cluster.awaitServing();
        await("gRPC health SERVING once the node is ready",
            () -> status(health) == ServingStatus.SERVING);
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  private static ServingStatus status(HealthGrpc.HealthBlockingStub health) {
    return health.withDeadlineAfter(10, TimeUnit.SECONDS)
        .check(HealthCheckRequest.newBuilder().build()).getStatus();
  }
}
