package dev.dedupe.server.shard;

import dev.dedupe.server.config.WindowConfig;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the whole node holds at one moment: the sum of its shards' figures, and the windows in
 * force that follow from them.
 *
 * @param atMillis when the figures were read
 * @param keysByNamespace records held per namespace
 * @param diskBytes bytes on disk: every shard's table files plus the node's write-ahead log,
 *     which all shards share
 * @param oldestBucketStartMillis the oldest bucket any shard holds, or -1 if none
 * @param budgetHorizonMillis the newest budget horizon of any shard, or 0 if no bucket was ever
 *     dropped for the disk budget
 * @param pendingCompactionBytes the sum of the shards' estimates
 * @param memtableBytes the sum of the shards' memtables
 * @param shards each shard's own figures, in shard order
 */
public record NodeFigures(
    long atMillis,
    Map<String, Long> keysByNamespace,
    long diskBytes,
    long oldestBucketStartMillis,
    long budgetHorizonMillis,
    long pendingCompactionBytes,
    long memtableBytes,
    List<ShardFigures> shards) {

  /**
   * @param sharedDiskBytes bytes on disk that belong to no one shard (the shared write-ahead
   *     log), counted once
   */
  public static NodeFigures sum(long atMillis, List<ShardFigures> shards, long sharedDiskBytes) {
    Map<String, Long> keys = new HashMap<>();
    long disk = sharedDiskBytes;
    long oldest = Long.MAX_VALUE;
    long horizon = 0;
    long pending = 0;
    long memtables = 0;
    for (ShardFigures f : shards) {
      f.keysByNamespace().forEach((ns, n) -> keys.merge(ns, n, Long::sum));
      disk += f.diskBytes();
      if (!f.bucketStarts().isEmpty()) {
        oldest = Math.min(oldest, f.bucketStarts().get(0));
      }
      horizon = Math.max(horizon, f.budgetHorizonMillis());
      pending += f.pendingCompactionBytes();
      memtables += f.memtableBytes();
    }
    return new NodeFigures(atMillis, Map.copyOf(keys), disk,
        oldest == Long.MAX_VALUE ? -1 : oldest, horizon, pending, memtables, List.copyOf(shards));
  }

  public long totalKeys() {
    return keysByNamespace.values().stream().mapToLong(Long::longValue).sum();
  }

  /** Records held for one namespace. */
  public long keysHeld(String namespace) {
    return keysByNamespace.getOrDefault(namespace, 0L);
  }

  /** The namespace's share of the bytes on disk, in proportion to its keys. */
  public long bytesHeld(String namespace) {
    long total = totalKeys();
    return total == 0 ? 0 : (long) ((double) diskBytes * keysHeld(namespace) / total);
  }

  /**
   * The window actually in force for a namespace: its configured window, shortened to the age
   * of the budget horizon when the disk budget has forced data out. Ids first seen before the
   * horizon may have been dropped, so they may be answered NEW again.
   */
  public Duration effectiveWindow(String namespace, WindowConfig windows) {
    Duration window = windows.windowFor(namespace);
    if (budgetHorizonMillis == 0) {
      return window;
    }
    Duration sinceHorizon = Duration.ofMillis(Math.max(0, atMillis - budgetHorizonMillis));
    return sinceHorizon.compareTo(window) < 0 ? sinceHorizon : window;
  }
}
