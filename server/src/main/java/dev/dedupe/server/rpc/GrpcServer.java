package dev.dedupe.server.rpc;

import dev.dedupe.v1.DedupeServiceGrpc;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;

/**
 * The API listener: the dedupe service, the admin service (when given), the standard {@code grpc.health.v1.Health} service
 * (for Kubernetes gRPC probes) and server reflection (for grpcurl).
 *
 * <p>Takes a {@link ServerBuilder} so that tests run the same server in-process and end-to-end
 * tests run it on Netty, with nothing else changed.
 */
public final class GrpcServer implements AutoCloseable {

  private static final String SERVICE_NAME = DedupeServiceGrpc.SERVICE_NAME;

  private final Server server;
  private final DedupeGrpcService service;
  /** The dedupe service's calls in flight: what a shutdown waits for. */
  private final CallsInFlight dedupeCalls = new CallsInFlight();
  /** The health and reflection services' calls in flight: what a shutdown cancels. */
  private final CallsInFlight libraryCalls = new CallsInFlight();
  private final HealthStatusManager health = new HealthStatusManager();

  public GrpcServer(ServerBuilder<?> builder, DedupeGrpcService service, int maxRequestBytes) {
    this(builder, service, null, maxRequestBytes);
  }

  /**
   * @param admin {@code dedupe.admin.v1.AdminService}, or null to serve none; its calls are
   *     short and counted with the dedupe service's, so a shutdown lets them finish
   */
  public GrpcServer(ServerBuilder<?> builder, DedupeGrpcService service,
      AdminGrpcService admin, int maxRequestBytes) {
    this.service = service;
    if (admin != null) {
      builder.addService(ServerInterceptors.intercept(admin, dedupeCalls));
    }
    // Every method of the API only validates, hashes and enqueues (or answers at once), and
    // every service here is non-blocking; so calls run on the transport's threads instead of
    // hopping to an executor and back: each hop cost a thread wake-up per call, and the
    // profile of single-id calls was mostly scheduler work (docs/benchmarks.md, issue 10's
    // section, "Single ids, 16 in flight").
    this.server = builder
        .directExecutor()
        .addService(ServerInterceptors.intercept(
            MalformedRequestGuard.guard(service.bindService()), dedupeCalls,
            new ForwardedHeader()))
        .addService(ServerInterceptors.intercept(health.getHealthService(), libraryCalls))
        .addService(ServerInterceptors.intercept(
            ProtoReflectionServiceV1.newInstance(), libraryCalls))
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
   * Stops taking calls, ends the shard-map watches, lets the dedupe calls in flight finish (up
   * to the grace period), then cancels whatever is left and closes.
   *
   * <p>Only the dedupe service's calls are waited for. Streams that never end by themselves
   * would otherwise hold every stop for the whole grace period: the shard-map watches are
   * completed here (the client re-opens its watch on another node), and the library services'
   * streams, a client's Health.Watch or a reflection session, are cancelled. When none is
   * open, the server is left to finish gracefully, so that no connection is cut while
   * replies may still be on their way.
   */
  public void shutdown(long graceMillis) {
    health.enterTerminalState();
    server.shutdown();
    service.endWatches();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(graceMillis);
    try {
      boolean drained = dedupeCalls.awaitNone(graceMillis);
      if (!drained || libraryCalls.count() > 0) {
        server.shutdownNow();
      }
      long left = Math.max(0, deadline - System.nanoTime());
      if (!server.awaitTermination(left, TimeUnit.NANOSECONDS)) {
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
