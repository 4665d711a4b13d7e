package dev.dedupe.server.copy;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte rates as an admin types them ({@code 50MiB/s}, {@code 500KiB/s}, {@code 1GB/s},
 * {@code 2000000B/s}) and as the tools print them. Units as for sizes in the configuration:
 * {@code B}, {@code KiB}, {@code MiB}, {@code GiB} (powers of 1024) and {@code KB}, {@code MB},
 * {@code GB} (powers of 1000); the {@code /s} is required, so that a size typed by mistake
 * is not taken for a rate.
 */
public final class ByteRate {

  /** The lowest rate a throttle may be set to: below it a 1 MiB chunk takes over 17 minutes. */
  public static final long MIN_BYTES_PER_SECOND = 1024;
  /** The highest: beyond it the throttle could never bind on any network we know. */
  public static final long MAX_BYTES_PER_SECOND = 1L << 40;

  private static final Pattern RATE =
      Pattern.compile("\\s*(\\d+(?:\\.\\d+)?)\\s*(B|KiB|MiB|GiB|KB|MB|GB)/s\\s*");

  private ByteRate() {}

  /**
   * The bytes per second {@code text} names.
   *
   * @throws IllegalArgumentException naming what is wrong, with an example of what is right
   */
  public static long parse(String text) {
    Matcher m = RATE.matcher(text == null ? "" : text);
    if (!m.matches()) {
      throw new IllegalArgumentException("'" + text + "' is not a rate: write a number and a"
          + " unit per second, such as 50MiB/s or 500KiB/s (units B, KiB, MiB, GiB, KB, MB, GB)");
    }
    double number = Double.parseDouble(m.group(1));
    long unit = switch (m.group(2)) {
      case "B" -> 1L;
      case "KiB" -> 1L << 10;
      case "MiB" -> 1L << 20;
      case "GiB" -> 1L << 30;
      case "KB" -> 1_000L;
      case "MB" -> 1_000_000L;
      case "GB" -> 1_000_000_000L;
      default -> throw new IllegalStateException("unit " + m.group(2));
    };
    double bytes = number * unit;
    if (bytes < MIN_BYTES_PER_SECOND || bytes > MAX_BYTES_PER_SECOND) {
      throw new IllegalArgumentException("'" + text + "' is out of range: a throttle is "
          + format(MIN_BYTES_PER_SECOND) + " to " + format(MAX_BYTES_PER_SECOND)
          + " ('admin throttle clear' removes it)");
    }
    return Math.round(bytes);
  }

  /** Whether the server accepts {@code bytesPerSecond} for a throttle (0 clears). */
  public static boolean settable(long bytesPerSecond) {
    return bytesPerSecond >= MIN_BYTES_PER_SECOND && bytesPerSecond <= MAX_BYTES_PER_SECOND;
  }

  /** {@code 50.0MiB/s}, {@code 512KiB/s}, {@code 900B/s}: binary units, short. */
  public static String format(double bytesPerSecond) {
    return size(bytesPerSecond) + "/s";
  }

  /** {@code 4.0MiB}, {@code 12KiB}, {@code 900B}. */
  public static String size(double bytes) {
    if (bytes < 1024) {
      return Math.round(bytes) + "B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double v = bytes / 1024;
    int u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return (v >= 100 || v == Math.rint(v) ? String.format(Locale.ROOT, "%.0f", v)
        : String.format(Locale.ROOT, "%.1f", v)) + units[u];
  }
}
