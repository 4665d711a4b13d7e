package dev.dedupe.server.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How a node stores its shards. See docs/configuration.md for each key's default and trade-off.
 *
 * @param dataDir where the shard stores live ({@code storage.data-dir})
 * @param shards the number of logical shards, fixed when the data directory is created
 *     ({@code storage.shards})
 * @param durability when a write counts as done ({@code storage.durability})
 * @param bucketWidth the span of one time bucket; age-out drops whole buckets
 *     ({@code storage.bucket.minutes})
 * @param diskBudgetBytes the most bytes the shard stores may hold before the oldest bucket is
 *     dropped; 0 means 80% of the data directory's file system ({@code storage.disk-budget.bytes})
 * @param blockCacheBytes the block cache shared by all shards ({@code storage.block-cache.bytes})
 * @param writeBufferBytes the memtable memory shared by all shards
 *     ({@code storage.write-buffer.bytes})
 * @param maintenanceInterval how often buckets are rotated and dropped, and the disk budget and
 *     figures checked ({@code storage.maintenance.interval.seconds})
 */
public record StorageConfig(
    Path dataDir,
    int shards,
    Durability durability,
    Duration bucketWidth,
    long diskBudgetBytes,
    long blockCacheBytes,
    long writeBufferBytes,
    Duration maintenanceInterval) {

  /** The widest bucket: a record stores its time as an unsigned 32-bit millisecond offset. */
  public static final Duration MAX_BUCKET_WIDTH = Duration.ofDays(7);

  public StorageConfig {
    Objects.requireNonNull(dataDir, "storage.data-dir");
    Objects.requireNonNull(durability, "storage.durability");
    if (shards < 1 || shards > 4096) {
      throw new IllegalArgumentException("storage.shards must be in [1, 4096], was " + shards);
    }
    if (bucketWidth.compareTo(Duration.ofMinutes(1)) < 0
        || bucketWidth.compareTo(MAX_BUCKET_WIDTH) > 0) {
      throw new IllegalArgumentException(
          "storage.bucket.minutes must be in [1, " + MAX_BUCKET_WIDTH.toMinutes() + "], was "
              + bucketWidth.toMinutes());
    }
    if (diskBudgetBytes < 0) {
      throw new IllegalArgumentException(
          "storage.disk-budget.bytes must be >= 0 (0 = automatic), was " + diskBudgetBytes);
    }
    if (blockCacheBytes < 1 << 20) {
      throw new IllegalArgumentException(
          "storage.block-cache.bytes must be at least 1 MiB, was " + blockCacheBytes);
    }
    if (writeBufferBytes < 4 << 20) {
      throw new IllegalArgumentException(
          "storage.write-buffer.bytes must be at least 4 MiB, was " + writeBufferBytes);
    }
    if (maintenanceInterval.isNegative() || maintenanceInterval.isZero()) {
      throw new IllegalArgumentException(
          "storage.maintenance.interval.seconds must be positive, was " + maintenanceInterval);
    }
  }
}
