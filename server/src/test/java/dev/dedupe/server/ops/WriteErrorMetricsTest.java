package dev.dedupe.server.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.decision.IdResult;
import dev.dedupe.server.shard.Caller;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.shard.ShardWriter;
import dev.dedupe.server.testing.ManualClock;
import dev.dedupe.server.testing.StorageFixture;
import dev.dedupe.server.testing.TestConfigs;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dedupe_shard_write_errors_total}, what the write-error alert of
 * deploy/monitoring/prometheus reads: a round that fails on its store counts once, on its
 * shard only, beside {@code dedupe_shard_healthy} at 0.
 */
class WriteErrorMetricsTest {

  @TempDir Path dir;
  private StorageFixture storage;
  private PrometheusMeterRegistry registry;
  private ServerMetrics metrics;

  @AfterEach
  void closeAll() {
    if (metrics != null) {
      metrics.close();
      registry.close();
    }
    if (storage != null) {
      storage.close();
    }
  }

  @Test
  void aRoundThatFailsOnItsStoreIsCountedOnItsShardOnly() {
    storage = new StorageFixture(TestConfigs.forDataDir(dir, Map.of("storage.shards", "2")),
        new ManualClock(1_795_428_000_000L));
    ShardSet shards = storage.shards;
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    metrics = new ServerMetrics(registry, storage.retention, storage.config.windows(), shards,
        storage.resources);

    Exposition before = Exposition.parse(registry.scrape());
    assertEquals(0.0, before.value("dedupe_shard_write_errors_total", "shard", "1"), before.text());
    assertEquals(1.0, before.value("dedupe_shard_healthy", "shard", "1"), before.text());
    assertEquals("counter", before.types().get("dedupe_shard_write_errors_total"), before.text());

    // Shard 1's store fails under its writer: the next round's read of it throws, as a disk
    // error would, and the round's caller is answered with the failure.
    ShardWriter writer = shards.writer(1);
    writer.submit(store -> {
      store.close();
      return null;
    }).join();
    assertThrows(CompletionException.class, () -> insert(writer, "a").join());

    Exposition failed = Exposition.parse(registry.scrape());
    assertEquals(1.0, failed.value("dedupe_shard_write_errors_total", "shard", "1"), failed.text());
    assertEquals(0.0, failed.value("dedupe_shard_healthy", "shard", "1"), failed.text());
    assertEquals(0.0, failed.value("dedupe_shard_write_errors_total", "shard", "0"), failed.text());
    assertEquals(1.0, failed.value("dedupe_shard_healthy", "shard", "0"), failed.text());

    // Opened again on its store, the shard is healthy; its new writer counts from 0, which
    // Prometheus reads as a counter reset (increase() still sees the error before it).
    shards.close(1);
    shards.open(List.of(1));
    insert(shards.writer(1), "c").join();
    Exposition reopened = Exposition.parse(registry.scrape());
    assertEquals(1.0, reopened.value("dedupe_shard_healthy", "shard", "1"), reopened.text());
    assertEquals(0.0, reopened.value("dedupe_shard_write_errors_total", "shard", "1"),
        reopened.text());
  }

  private static CompletableFuture<IdResult[]> insert(ShardWriter writer, String id) {
    return writer.checkAndInsert("orders", Duration.ofHours(24).toMillis(),
        List.of(ShardHash.digest("orders", id)), "", 0, List.of(), Caller.WAITING);
  }
}
