package dev.dedupe.server.testing;

import dev.dedupe.server.config.ConfigLoader;
import dev.dedupe.server.config.ServerConfig;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Server configurations for tests: loopback, free ports, small memory, a temporary data dir. */
public final class TestConfigs {

  private TestConfigs() {}

  /** The defaults with test-sized memory, plus {@code overrides} (config key to value). */
  public static ServerConfig forDataDir(Path dataDir, Map<String, String> overrides) {
    Map<String, String> settings = settings(dataDir);
    settings.putAll(overrides);
    return ConfigLoader.load(null, settings, Map.of());
  }

  /** The settings {@link #forDataDir} starts from, as a map the caller may change. */
  public static Map<String, String> settings(Path dataDir) {
    Map<String, String> settings = new HashMap<>();
    settings.put("grpc.host", "127.0.0.1");
    settings.put("grpc.port", "0");
    settings.put("ops.host", "127.0.0.1");
    settings.put("ops.port", "0");
    settings.put("storage.data-dir", dataDir.toString());
    settings.put("storage.shards", "4");
    // One-hour buckets: the storage tests move the clock across bucket boundaries.
    settings.put("storage.bucket.minutes", "60");
    settings.put("storage.block-cache.bytes", "16MiB");
    settings.put("storage.write-buffer.bytes", "16MiB");
    settings.put("storage.disk-budget.bytes", "1GiB");
    settings.put("storage.maintenance.interval.seconds", "3600");
    return settings;
  }
}
