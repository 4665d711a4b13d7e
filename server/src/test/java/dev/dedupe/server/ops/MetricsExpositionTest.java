package dev.dedupe.server.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.testing.TestConfigs;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.DedupeServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a Prometheus server sees on the ops port: the exposition format, the metric types and
 * units, and a clean {@code promtool check metrics}. One real node, real HTTP on loopback.
 */
class MetricsExpositionTest {

  /** RocksDB's cumulative figures: counters in base units (issue 9). */
  private static final String[] ROCKSDB_COUNTERS = {
    "dedupe_rocksdb_stall_seconds_total",
    "dedupe_rocksdb_compaction_read_bytes_total",
    "dedupe_rocksdb_compaction_write_bytes_total",
    "dedupe_rocksdb_wal_syncs_total",
  };

  @TempDir Path dir;
  private DedupeNode node;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() {
    node = DedupeNode.start(TestConfigs.forDataDir(dir, Map.of()), InstantSource.system());
    // Some traffic, so that the per-RPC and per-namespace meters exist and the WAL was synced.
    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", node.grpcPort()).usePlaintext().build();
    try {
      DedupeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .checkAndInsert(CheckAndInsertRequest.newBuilder()
              .setNamespace("orders").addMessageIds("a").addMessageIds("b").build());
    } finally {
      channel.shutdownNow();
    }
    node.runMaintenance();
  }

  @AfterEach
  void stop() {
    node.close();
  }

  @Test
  void headMetricsAnswersLikeGetWithoutABody() throws Exception {
    HttpResponse<String> get = send("GET", "/metrics");
    HttpResponse<String> head = send("HEAD", "/metrics");
    assertEquals(200, get.statusCode());
    assertEquals(200, head.statusCode(), "HEAD /metrics");
    assertEquals("", head.body());
    // The classic text format, which every Prometheus version reads.
    assertEquals("text/plain; version=0.0.4; charset=utf-8",
        get.headers().firstValue("Content-Type").orElse(null));
    assertEquals(get.headers().firstValue("Content-Type"), head.headers().firstValue("Content-Type"));
  }

  @Test
  void rocksDbCumulativeFiguresAreCountersInBaseUnits() throws Exception {
    Exposition scrape = Exposition.scrape(node.opsPort());
    for (String name : ROCKSDB_COUNTERS) {
      Double value = scrape.value(name);
      assertNotNull(value, name + " missing from:\n" + scrape.text());
      assertTrue(value >= 0, name + " = " + value);
      String family = name.substring(0, name.length() - "_total".length());
      String type = Optional.ofNullable(scrape.types().get(name)).orElse(scrape.types().get(family));
      assertEquals("counter", type, "# TYPE of " + name);
    }
    // The insert above was synced (storage.durability fsync): the counter reads RocksDB's ticker.
    assertTrue(scrape.value("dedupe_rocksdb_wal_syncs_total") >= 1, scrape.text());
    // The gauges these replace are gone, rather than served twice under two names.
    for (String old : List.of("dedupe_rocksdb_stall_micros", "dedupe_rocksdb_compaction_read_bytes",
        "dedupe_rocksdb_compaction_write_bytes", "dedupe_rocksdb_wal_syncs")) {
      assertNull(scrape.value(old), old + " is still served:\n" + scrape.text());
    }
  }

  @Test
  void promtoolFindsNothingToFix() throws Exception {
    Optional<Path> promtool = onPath("promtool");
    Assumptions.assumeTrue(promtool.isPresent(),
        "promtool is not on the PATH: skipping `promtool check metrics` (Debian: apt-get install prometheus)");
    Path scraped = dir.resolve("metrics.txt");
    Files.writeString(scraped, send("GET", "/metrics").body(), StandardCharsets.UTF_8);
    Process check = new ProcessBuilder(promtool.get().toString(), "check", "metrics")
        .redirectInput(scraped.toFile())
        .redirectErrorStream(true)
        .start();
    String report = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(check.waitFor(60, TimeUnit.SECONDS), "promtool did not finish");
    assertEquals("", report.strip(), "promtool check metrics");
    assertEquals(0, check.exitValue(), report);
  }

  private HttpResponse<String> send(String method, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.opsPort() + path))
            .method(method, HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static Optional<Path> onPath(String program) {
    String path = System.getenv("PATH");
    if (path == null) {
      return Optional.empty();
    }
    return Stream.of(path.split(File.pathSeparator))
        .filter(d -> !d.isEmpty())
        .map(d -> Path.of(d, program))
        .filter(Files::isExecutable)
        .findFirst();
  }
}
