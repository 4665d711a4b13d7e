package dev.dedupe.server.shard;

import dev.dedupe.server.config.WindowConfig;
import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.LogEntry;
import dev.dedupe.server.storage.ShardStore;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.CompletableFuture;
import java.util.ArrayList;
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

  /**
   * One pass of rotation, expiry and budget enforcement; returns the figures after it.
   *
   * <p>Only the shards this node leads decide: their drops and the new budget horizon become
   * entries of the shard's log ({@link ShardWriter#maintain}), so that each follower makes the
   * same drops at the same point of the log instead of deciding by its own clock and disk. A
   * follower's data counts towards this node's disk figure all the same; when only followers
   * hold the excess, the pass says so and leaves the drops to their leaders.
   */
  public synchronized NodeFigures runOnce() {
    long now = clock.millis();
    BucketGrid grid = shards.grid();
    long current = grid.startOf(now);
    long expiredBefore = now - windows.longest().toMillis();
    for (CompletableFuture<Boolean> f : onLeaders(store -> {
      List<LogEntry.Op> ops = new ArrayList<>();
      if (!store.bucketStarts().contains(current)) {
        ops.add(new LogEntry.EnsureBucket(current));
      }
      for (long start : store.bucketStarts()) {
        if (start != current && grid.endOf(start) <= expiredBefore) {
          ops.add(new LogEntry.DropBucket(start));
        }
      }
      return ops;
    })) {
      f.join();
    }
    NodeFigures node = figures(now);
    while (diskBudgetBytes > 0 && node.diskBytes() > diskBudgetBytes) {
      long oldest = node.oldestBucketStartMillis();
      if (oldest < 0 || oldest >= current) {
        log.error("disk budget {} bytes exceeded ({} bytes held) by the current bucket alone;"
                + " raise storage.disk-budget.bytes or lower storage.bucket.minutes",
            diskBudgetBytes, node.diskBytes());
        break;
      }
      long horizon = grid.endOf(oldest);
      log.warn("disk budget {} bytes exceeded ({} bytes held): dropping bucket {} on every shard"
              + " this node leads; ids first seen before {} may be NEW again",
          diskBudgetBytes, node.diskBytes(), Instant.ofEpochMilli(oldest),
          Instant.ofEpochMilli(horizon));
      boolean dropped = false;
      for (CompletableFuture<Boolean> f : onLeaders(store -> {
        List<LogEntry.Op> ops = new ArrayList<>();
        for (long s : store.bucketStarts()) {
          if (s <= oldest) {
            ops.add(new LogEntry.DropBucket(s));
          }
        }
        if (!ops.isEmpty() || store.budgetHorizonMillis() < horizon) {
          ops.add(LogEntry.budgetHorizon(horizon));
        }
        return ops;
      })) {
        dropped |= f.join();
      }
      NodeFigures after = figures(now);
      node = after;
      if (!dropped || after.oldestBucketStartMillis() == oldest) {
        log.warn("disk budget {} bytes exceeded ({} bytes held), but the oldest bucket {} is held"
                + " by shards this node follows; their leaders drop it",
            diskBudgetBytes, after.diskBytes(), Instant.ofEpochMilli(oldest));
        break;
      }
    }
    warnBelowFloor(node, now);
    lastFigures = node;
    return node;
  }

  /** Runs {@code decide} on every open shard as a maintenance step (see ShardWriter#maintain). */
  private List<CompletableFuture<Boolean>> onLeaders(
      java.util.function.Function<ShardStore, List<LogEntry.Op>> decide) {
    List<CompletableFuture<Boolean>> steps = new ArrayList<>();
    for (ShardWriter w : shards.writers()) {
      steps.add(w.maintain(decide).exceptionally(e -> {
        log.warn("shard {}: maintenance step failed: {}", w.shardId(), e.toString());
        return false;
      }));
    }
    return steps;
  }

  private NodeFigures figures(long now) {
    List<ShardFigures> figures = shards.onEveryShard(
        store -> store == null ? null : ShardFigures.collect(store));
    figures = figures.stream().filter(java.util.Objects::nonNull).toList();
    return NodeFigures.sum(now, figures, shards.sharedDiskBytes());
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
