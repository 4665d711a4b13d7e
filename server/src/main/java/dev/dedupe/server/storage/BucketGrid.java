package dev.dedupe.server.storage;

import java.time.Duration;
import java.util.OptionalLong;

/**
 * The time buckets that records are written into. Buckets are aligned to multiples of the
 * width since the Unix epoch, so every shard of every node rotates at the same instants and a
 * bucket is named by its start alone. A bucket is one RocksDB column family; age-out drops
 * whole column families, which costs a file deletion instead of a tombstone per key.
 */
public final class BucketGrid {

  private static final String PREFIX = "b-";

  private final long widthMillis;

  public BucketGrid(Duration width) {
    this.widthMillis = width.toMillis();
  }

  public long widthMillis() {
    return widthMillis;
  }

  /** The start of the bucket that a write at this time goes into. */
  public long startOf(long millis) {
    return Math.floorDiv(millis, widthMillis) * widthMillis;
  }

  /** The end (exclusive) of the bucket that starts at {@code start}. */
  public long endOf(long start) {
    return start + widthMillis;
  }

  /** The column family name of the bucket that starts at {@code start}. */
  public static String columnFamilyName(long start) {
    return PREFIX + start;
  }

  /** The bucket start that a column family name denotes, or empty if it names no bucket. */
  public static OptionalLong parseColumnFamilyName(String name) {
    if (!name.startsWith(PREFIX)) {
      return OptionalLong.empty();
    }
    try {
      return OptionalLong.of(Long.parseLong(name.substring(PREFIX.length())));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }
}
