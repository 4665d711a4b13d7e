package dev.dedupe.server.storage;

import java.util.Optional;
import java.util.OptionalLong;

/**
 * The column family names of a node's database. Every name starts with its shard
 * ({@code s0007.}), so a shard's data can be listed, exported, imported and dropped by name
 * alone: {@code s0007.meta} holds the shard's metadata, and {@code s0007.b-<start millis>} is
 * one time bucket ({@link BucketGrid#columnFamilyName} behind the shard prefix).
 */
final class ShardColumnFamilyNames {

  private static final String META = "meta";

  private ShardColumnFamilyNames() {}

  /** What a column family name denotes: a shard's metadata, or one of its buckets. */
  record Parsed(int shard, OptionalLong bucketStart) {
    boolean isMeta() {
      return bucketStart.isEmpty();
    }
  }

  static String meta(int shard) {
    return prefix(shard) + META;
  }

  static String bucket(int shard, long start) {
    return prefix(shard) + BucketGrid.columnFamilyName(start);
  }

  private static String prefix(int shard) {
    return String.format("s%04d.", shard);
  }

  /** The shard and bucket a name denotes, or empty if it is not a shard's column family. */
  static Optional<Parsed> parse(String name) {
    int dot = name.indexOf('.');
    if (!name.startsWith("s") || dot < 2) {
      return Optional.empty();
    }
    int shard;
    try {
      shard = Integer.parseInt(name.substring(1, dot));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
    String rest = name.substring(dot + 1);
    if (rest.equals(META)) {
      return Optional.of(new Parsed(shard, OptionalLong.empty()));
    }
    OptionalLong start = BucketGrid.parseColumnFamilyName(rest);
    return start.isPresent() ? Optional.of(new Parsed(shard, start)) : Optional.empty();
  }
}
