package dev.dedupe.server.rpc;

import dev.dedupe.v1.DedupeServiceGrpc;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;

/**
 * The API listener: the dedupe service, the standard {@code grpc.health.v1.Health} service
 * (for Kubernetes gRPC probes) and server reflection (for grpcurl).
 *
 * <p>Takes a {@link ServerBuilder} so that tests run the same server in-process and end-to-end
 * tests run it on Netty, with nothing else changed.
 */
public final class GrpcServer implements AutoCloseable {

  private static final String SERVICE_NAME = DedupeServiceGrpc.SERVICE_NAME;

  private final Server server;
  private final DedupeGrpcService service;
  private final HealthStatusManager health = new HealthStatusManager();

  public GrpcServer(ServerBuilder<?> builder, DedupeGrpcService service, int maxRequestBytes) {
    this.service = service;
    this.server = builder
        .addService(MalformedRequestGuard.guard(service.bindService()))
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .maxInboundMessageSize(maxRequestBytes)
        .build();
    setServing(false);
  }

  public GrpcServer start() {
    try {
      server.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the gRPC server: " + e.getMessage(), e);
    }
    return this;
  }

  /** The bound port (for in-process servers, -1). */
  public int port() {
    return server.getPort();
  }

  /** What the health service reports, for the whole server and for DedupeService. */
  public void setServing(boolean serving) {
    ServingStatus status = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    health.setStatus("", status);
    health.setStatus(SERVICE_NAME, status);
  }

  /**
   * Stops taking calls, ends the shard-map watches, lets calls in flight finish (up to the
   * grace period), then closes. Watches are ended rather than waited for: they never finish
   * by themselves, and the client re-opens its watch on another node.
   */
  public void shutdown(long graceMillis) {
    health.enterTerminalState();
    server.shutdown();
    service.endWatches();
    try {
      if (!server.awaitTermination(graceMillis, TimeUnit.MILLISECONDS)) {
        server.shutdownNow();
        server.awaitTermination(graceMillis, TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.shutdownNow();
    }
  }

  @Override
  public void close() {
    shutdown(5_000);
  }
}
