package dev.dedupe.loadbench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The ids a benchmark sends: fresh ids of one shape, mixed with a requested share of repeats of
 * ids this workload sent before (the duplicates a deduplicator exists to catch).
 *
 * <p>A repeat is drawn uniformly from the last {@link #RECENT} fresh ids, as a redelivery or a
 * retry would be, so it is still within any window. The sequence depends only on the seed, so
 * the dedupe run and the Redis run of one benchmark see the same kind of ids in the same mix.
 *
 * <p>Not thread-safe: each sending thread owns one.
 */
public final class Workload {

  /** How many of the latest fresh ids a repeat is drawn from. */
  static final int RECENT = 1 << 16;

  /** The form of a fresh id. */
  public record Shape(Kind kind, int length) {

    public enum Kind { UUID, COUNTER, RANDOM }

    /** Parses "uuid", "counter" or "random:LENGTH" (1 to 256 characters). */
    public static Shape parse(String text) {
      String t = text.trim().toLowerCase(Locale.ROOT);
      if (t.equals("uuid")) {
        return new Shape(Kind.UUID, 36);
      }
      if (t.equals("counter")) {
        return new Shape(Kind.COUNTER, 0);
      }
      if (t.startsWith("random:")) {
        int length;
        try {
          length = Integer.parseInt(t.substring("random:".length()));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("--ids random:LENGTH needs a number, got '" + text + "'");
        }
        if (length < 1 || length > 256) {
          throw new IllegalArgumentException("--ids random:LENGTH must be 1 to 256, got " + length);
        }
        return new Shape(Kind.RANDOM, length);
      }
      throw new IllegalArgumentException(
          "--ids must be uuid, counter or random:LENGTH, got '" + text + "'");
    }

    @Override
    public String toString() {
      return switch (kind) {
        case UUID -> "uuid";
        case COUNTER -> "counter";
        case RANDOM -> "random:" + length;
      };
    }
  }

  private static final char[] HEX = "0123456789abcdef".toCharArray();
  private static final char[] ALNUM =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();

  private final Shape shape;
  private final double duplicateRatio;
  private final SplittableRandom random;
  private final String counterPrefix;
  private final String[] recent = new String[RECENT];
  private int recentCount;
  private int recentNext;
  private long counter;
  private long fresh;
  private long repeats;

  /**
   * @param shape the form of fresh ids
   * @param duplicateRatio the share of ids, in [0, 1), that repeat an earlier id
   * @param seed fixes the sequence
   */
  public Workload(Shape shape, double duplicateRatio, long seed) {
    if (!(duplicateRatio >= 0 && duplicateRatio < 1)) {
      throw new IllegalArgumentException("duplicate ratio must be in [0, 1), was " + duplicateRatio);
    }
    this.shape = shape;
    this.duplicateRatio = duplicateRatio;
    this.random = new SplittableRandom(seed);
    // Counters of different seeds must not collide: each seed counts under its own prefix.
    this.counterPrefix = "m" + Long.toHexString(seed) + "-";
  }

  /** The next id: a repeat with probability duplicateRatio (once there is one), else fresh. */
  public String next() {
    if (recentCount > 0 && duplicateRatio > 0 && random.nextDouble() < duplicateRatio) {
      repeats++;
      return recent[random.nextInt(recentCount)];
    }
    String id = fresh();
    recent[recentNext] = id;
    recentNext = (recentNext + 1) % RECENT;
    recentCount = Math.min(recentCount + 1, RECENT);
    return id;
  }

  /** {@code n} ids from {@link #next}. */
  public List<String> batch(int n) {
    List<String> ids = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      ids.add(next());
    }
    return ids;
  }

  /** A fresh id, never a repeat, and not remembered for repeats (preloading uses this). */
  public String fresh() {
    fresh++;
    return switch (shape.kind()) {
      case UUID -> uuid();
      case COUNTER -> counterPrefix + (counter++);
      case RANDOM -> randomText(shape.length());
    };
  }

  /** Ids handed out so far that were fresh. */
  public long freshIssued() {
    return fresh;
  }

  /** Ids handed out so far that repeated an earlier one. */
  public long repeatsIssued() {
    return repeats;
  }

  public Shape shape() {
    return shape;
  }

  /** A random (version 4) UUID in its 36-character text form, from this workload's random. */
  private String uuid() {
    long hi = (random.nextLong() & ~0xF000L) | 0x4000L;
    long lo = (random.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    char[] c = new char[36];
    int p = 0;
    for (int i = 15; i >= 0; i--) {
      c[p++] = HEX[(int) (hi >>> (i * 4)) & 0xF];
      if (i == 8 || i == 4) {
        c[p++] = '-';
      }
    }
    c[p++] = '-';
    for (int i = 15; i >= 0; i--) {
      c[p++] = HEX[(int) (lo >>> (i * 4)) & 0xF];
      if (i == 12) {
        c[p++] = '-';
      }
    }
    return new String(c);
  }

  private String randomText(int length) {
    char[] c = new char[length];
    for (int i = 0; i < length; i++) {
      c[i] = ALNUM[random.nextInt(ALNUM.length)];
    }
    return new String(c);
  }
}
