package dev.dedupe.server.ops;

import dev.dedupe.server.config.EndpointConfig;
import io.helidon.health.HealthCheckResponse;
import io.helidon.health.HealthCheckType;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.observe.ObserveFeature;
import io.helidon.webserver.observe.health.HealthObserver;
import io.helidon.webserver.observe.metrics.MetricsObserver;
import java.util.function.BooleanSupplier;

/**
 * The ops port, apart from the API so that probes and scrapes never queue behind traffic:
 * {@code /health/live} and {@code /health/ready} (200 when up, 503 when down) and
 * {@code /metrics} (Prometheus text).
 */
public final class OpsServer implements AutoCloseable {

  private final WebServer server;

  /**
   * Starts the ops server; returns once it is bound.
   *
   * @param live whether the process can do its work at all (a restart would help if not)
   * @param ready whether the node should receive traffic now
   */
  public OpsServer(EndpointConfig endpoint, BooleanSupplier live, BooleanSupplier ready) {
    HealthObserver health = HealthObserver.builder()
        .endpoint("/health")
        .details(true)
        .useSystemServices(false)
        .addCheck(() -> HealthCheckResponse.builder().status(live.getAsBoolean()).build(),
            HealthCheckType.LIVENESS, "dedupe")
        .addCheck(() -> HealthCheckResponse.builder().status(ready.getAsBoolean()).build(),
            HealthCheckType.READINESS, "dedupe")
        .build();
    MetricsObserver metrics = MetricsObserver.builder().endpoint("/metrics").build();
    ObserveFeature observe = ObserveFeature.builder()
        .observersDiscoverServices(false)
        .addObserver(health)
        .addObserver(metrics)
        .build();
    server = WebServer.builder()
        .host(endpoint.host())
        .port(endpoint.port())
        // The node stops this server itself, after the gRPC server has drained.
        .shutdownHook(false)
        .featuresDiscoverServices(false)
        .addFeature(observe)
        .routing(r -> r.get("/", (req, res) ->
            res.send("dedupe ops: /health/live /health/ready /metrics\n")))
        .build()
        .start();
  }

  /** The bound port. */
  public int port() {
    return server.port();
  }

  @Override
  public void close() {
    server.stop();
  }
}
