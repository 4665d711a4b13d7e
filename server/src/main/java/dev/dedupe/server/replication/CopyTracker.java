package dev.dedupe.server.replication;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * What this node's snapshot copies have done: per copy being sent (shard and follower), the
 * bytes the follower accepted of how many and the rate of the last seconds, for the progress
 * the leader publishes; and, for the metrics, the bytes sent and received since the start and
 * the copies in flight. Keeps the last {@link #ATTEMPTS_KEPT} attempts (sent or cut short),
 * so that a test can tell a resumed copy from one that started over.
 *
 * <p>Thread-safe: shipping threads write, the publisher and the metrics read.
 */
public final class CopyTracker {

  /** How far back the rate looks: long enough to smooth a chunk a second, short enough to move. */
  static final long RATE_WINDOW_NANOS = 5_000_000_000L;
  static final int ATTEMPTS_KEPT = 100;

  /**
   * One attempt to send a snapshot.
   *
   * @param fromIndex the chunk it started at: 0 for a fresh copy, more for a resumed one
   * @param bytesSent the bytes it sent (not those an earlier attempt had sent)
   * @param installed whether the follower installed the snapshot at the end of it
   */
  public record Attempt(int shard, String follower, String installId, long fromIndex,
      long bytesSent, boolean installed) {}

  /** A copy as {@link #view} shows it. */
  public record View(boolean snapshotting, long bytesCopied, long bytesTotal,
      boolean totalEstimated, long bytesPerSecond) {}

  private static final class Copy {
    volatile boolean snapshotting;
    long copied;
    long total;
    boolean estimated;
    /** (nanos, copied) samples of the last {@link #RATE_WINDOW_NANOS}. */
    final ArrayDeque<long[]> samples = new ArrayDeque<>();
  }

  private final LongSupplier nanos;
  private final Map<String, Copy> copies = new ConcurrentHashMap<>();
  private final AtomicLong sent = new AtomicLong();
  private final AtomicLong received = new AtomicLong();
  private final List<Attempt> attempts = new ArrayList<>();

  public CopyTracker(LongSupplier nanos) {
    this.nanos = nanos;
  }

  private static String key(int shard, String follower) {
    return shard + "/" + follower;
  }

  /** A snapshot starts (or resumes) towards {@code follower}, {@code copied} bytes in already. */
  void started(int shard, String follower, long total, boolean estimated, long copied) {
    Copy c = new Copy();
    c.snapshotting = true;
    c.copied = copied;
    c.total = total;
    c.estimated = estimated;
    c.samples.add(new long[] {nanos.getAsLong(), copied});
    copies.put(key(shard, follower), c);
  }

  /** The follower accepted {@code bytes} more, sent now. */
  void accepted(int shard, String follower, long bytes) {
    sent.addAndGet(bytes);
    Copy c = copies.get(key(shard, follower));
    if (c == null) {
      return;
    }
    synchronized (c) {
      c.copied += bytes;
      if (c.estimated && c.copied > c.total) {
        c.total = c.copied; // the estimate was low; never show more than 100%
      }
      long now = nanos.getAsLong();
      c.samples.add(new long[] {now, c.copied});
      while (c.samples.size() > 2 && now - c.samples.peekFirst()[0] > RATE_WINDOW_NANOS) {
        c.samples.pollFirst();
      }
    }
  }

  /** The attempt ended; a copy cut short keeps its figures (it may resume). */
  void ended(Attempt attempt) {
    Copy c = copies.get(key(attempt.shard(), attempt.follower()));
    if (c != null) {
      synchronized (c) {
        c.snapshotting = false;
        if (attempt.installed()) {
          c.total = c.copied;
          c.estimated = false;
        }
      }
    }
    synchronized (attempts) {
      attempts.add(attempt);
      if (attempts.size() > ATTEMPTS_KEPT) {
        attempts.remove(0);
      }
    }
  }

  /** Forgets every copy but those of {@code keep} (shard/follower pairs still catching up). */
  void retain(java.util.Set<String> keep) {
    copies.entrySet().removeIf(e -> !keep.contains(e.getKey()) && !e.getValue().snapshotting);
  }

  static String pair(int shard, String follower) {
    return key(shard, follower);
  }

  /** Snapshot bytes received by this node's installs. */
  void received(long bytes) {
    received.addAndGet(bytes);
  }

  /** How the copy of {@code shard} to {@code follower} stands, if one ran under this leader. */
  public Optional<View> view(int shard, String follower) {
    Copy c = copies.get(key(shard, follower));
    if (c == null) {
      return Optional.empty();
    }
    synchronized (c) {
      long rate = 0;
      if (c.snapshotting && c.samples.size() >= 2) {
        long[] first = c.samples.peekFirst();
        long now = nanos.getAsLong();
        long elapsed = Math.max(now - first[0], 1);
        rate = (long) ((c.copied - first[1]) * 1e9 / elapsed);
      }
      return Optional.of(new View(c.snapshotting, c.copied, c.total, c.estimated, rate));
    }
  }

  /** Snapshot bytes this node sent since it started (resumed copies count what they resent). */
  public long bytesSent() {
    return sent.get();
  }

  /** Snapshot bytes this node's installs accepted since it started. */
  public long bytesReceived() {
    return received.get();
  }

  /** Snapshots being sent by this node now. */
  public long inFlight() {
    return copies.values().stream().filter(c -> c.snapshotting).count();
  }

  /** The last attempts, oldest first. */
  public List<Attempt> attempts() {
    synchronized (attempts) {
      return List.copyOf(attempts);
    }
  }
}
