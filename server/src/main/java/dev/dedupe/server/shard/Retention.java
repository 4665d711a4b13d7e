package dev.dedupe.server.shard;

import dev.dedupe.server.config.WindowConfig;
import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.ShardStore;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Age-out, run periodically: opens the current bucket on every shard, drops buckets that are
 * past every namespace's window, and, when the node holds more than the disk budget (every
 * shard's table files plus the write-ahead log they share, counted once), drops the oldest
 * bucket on every shard until it fits (the window shrinks instead of the disk filling up).
 * Each drop removes a column family whole: no per-key deletes, no tombstones, no scans. Reads
 * never rely on this having run: every lookup checks the record's own time.
 */
public final class Retention {

  private static final Logger log = LoggerFactory.getLogger(Retention.class);
  /** How often a namespace still below its floor is warned about again. */
  private static final Duration REWARN_INTERVAL = Duration.ofMinutes(15);

  private final ShardSet shards;
  private final WindowConfig windows;
  private final long diskBudgetBytes;
  private final InstantSource clock;
  /** Namespace to when it was last warned about; touched by the maintenance thread only. */
  private final Map<String, Long> warnedBelowFloor = new HashMap<>();
  private volatile NodeFigures lastFigures;

  public Retention(ShardSet shards, WindowConfig windows, long diskBudgetBytes, InstantSource clock) {
    this.shards = shards;
    this.windows = windows;
    this.diskBudgetBytes = diskBudgetBytes;
    this.clock = clock;
  }

  public long diskBudgetBytes() {
    return diskBudgetBytes;
  }

  /** The figures of the last pass, or null before the first. */
  public NodeFigures lastFigures() {
    return lastFigures;
  }

  /** One pass of rotation, expiry and budget enforcement; returns the figures after it. */
  public synchronized NodeFigures runOnce() {
    long now = clock.millis();
    BucketGrid grid = shards.grid();
    long current = grid.startOf(now);
    long expiredBefore = now - windows.longest().toMillis();
    List<ShardFigures> figures = shards.onEveryShard(store -> {
      store.ensureBucket(current);
      for (long start : store.bucketStarts()) {
        if (start != current && grid.endOf(start) <= expiredBefore) {
          store.dropBucket(start);
        }
      }
      return ShardFigures.collect(store);
    });
    NodeFigures node = NodeFigures.sum(now, figures, shards.sharedDiskBytes());
    while (diskBudgetBytes > 0 && node.diskBytes() > diskBudgetBytes) {
      long oldest = node.oldestBucketStartMillis();
      if (oldest < 0 || oldest >= current) {
        log.error("disk budget {} bytes exceeded ({} bytes held) by the current bucket alone;"
                + " raise storage.disk-budget.bytes or lower storage.bucket.minutes",
            diskBudgetBytes, node.diskBytes());
        break;
      }
      long horizon = grid.endOf(oldest);
      log.warn("disk budget {} bytes exceeded ({} bytes held): dropping bucket {} on every shard;"
              + " ids first seen before {} may be NEW again",
          diskBudgetBytes, node.diskBytes(), Instant.ofEpochMilli(oldest), Instant.ofEpochMilli(horizon));
      figures = shards.onEveryShard(store -> {
        dropThrough(store, oldest);
        store.advanceBudgetHorizon(horizon);
        return ShardFigures.collect(store);
      });
      node = NodeFigures.sum(now, figures, shards.sharedDiskBytes());
    }
    warnBelowFloor(node, now);
    lastFigures = node;
    return node;
  }

  private static void dropThrough(ShardStore store, long start) {
    for (long s : store.bucketStarts()) {
      if (s <= start) {
        store.dropBucket(s);
      }
    }
  }

  private void warnBelowFloor(NodeFigures node, long now) {
    for (String ns : node.keysByNamespace().keySet()) {
      Duration effective = node.effectiveWindow(ns, windows);
      Duration floor = windows.floorFor(ns);
      if (effective.compareTo(floor) >= 0) {
        if (warnedBelowFloor.remove(ns) != null) {
          log.info("namespace {}: effective window {} is back at or above its floor {}",
              ns, effective, floor);
        }
        continue;
      }
      Long last = warnedBelowFloor.get(ns);
      if (last == null || now - last >= REWARN_INTERVAL.toMillis()) {
        log.warn("namespace {}: effective window {} is below the floor {} (configured window {});"
                + " the disk budget is forcing data out early", ns, effective, floor,
            windows.windowFor(ns));
        warnedBelowFloor.put(ns, now);
      }
    }
  }
}
