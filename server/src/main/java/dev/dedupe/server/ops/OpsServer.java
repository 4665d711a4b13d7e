package dev.dedupe.server.ops;

import dev.dedupe.server.config.EndpointConfig;
import io.helidon.health.HealthCheckResponse;
import io.helidon.health.HealthCheckType;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.ServerResponse;
import io.helidon.webserver.observe.ObserveFeature;
import io.helidon.webserver.observe.health.HealthObserver;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;

/**
 * The ops port, apart from the API so that probes and scrapes never queue behind traffic:
 * {@code /health/live} and {@code /health/ready} (200 when up, 503 when down) and
 * {@code /metrics} (Prometheus text format 0.0.4, for GET and HEAD).
 */
public final class OpsServer implements AutoCloseable {

  /** The classic Prometheus text format, which every Prometheus version and agent reads. */
  static final String METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final WebServer server;

  /**
   * Starts the ops server; returns once it is bound.
   *
   * @param live whether the process can do its work at all (a restart would help if not)
   * @param ready whether the node should receive traffic now
   * @param metrics this node's registry, whose meters {@code /metrics} serves
   */
  public OpsServer(EndpointConfig endpoint, BooleanSupplier live, BooleanSupplier ready,
      PrometheusMeterRegistry metrics) {
    HealthObserver health = HealthObserver.builder()
        .endpoint("/health")
        .details(true)
        .useSystemServices(false)
        .addCheck(() -> HealthCheckResponse.builder().status(live.getAsBoolean()).build(),
            HealthCheckType.LIVENESS, "dedupe")
        .addCheck(() -> HealthCheckResponse.builder().status(ready.getAsBoolean()).build(),
            HealthCheckType.READINESS, "dedupe")
        .build();
    ObserveFeature observe = ObserveFeature.builder()
        .observersDiscoverServices(false)
        .addObserver(health)
        .build();
    server = WebServer.builder()
        .host(endpoint.host())
        .port(endpoint.port())
        // The node stops this server itself, after the gRPC server has drained.
        .shutdownHook(false)
        .featuresDiscoverServices(false)
        .addFeature(observe)
        // A plain route rather than Helidon's metrics observer, which serves Helidon's global
        // registry: every node in a JVM would then show the same figures (issue 9).
        .routing(r -> r
            .get("/", (req, res) -> res.send("dedupe ops: /health/live /health/ready /metrics\n"))
            .get("/metrics", (req, res) -> sendMetrics(metrics, res, true))
            // Some probes and proxies check an endpoint with HEAD (issue 9).
            .head("/metrics", (req, res) -> sendMetrics(metrics, res, false)))
        .build()
        .start();
  }

  private static void sendMetrics(PrometheusMeterRegistry metrics, ServerResponse res, boolean body) {
    byte[] text = metrics.scrape(METRICS_CONTENT_TYPE).getBytes(StandardCharsets.UTF_8);
    res.header(HeaderNames.CONTENT_TYPE, METRICS_CONTENT_TYPE);
    if (body) {
      res.send(text);
    } else {
      // The length a GET would send, and no body.
      res.contentLength(text.length);
      res.send();
    }
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
