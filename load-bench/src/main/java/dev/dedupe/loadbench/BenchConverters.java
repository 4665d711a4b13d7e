package dev.dedupe.loadbench;

import java.time.Duration;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The value forms of {@code bin/dedupe bench}'s options, as picocli type converters. picocli
 * puts the option's name in front of a converter's message ("Invalid value for option
 * '--preload' (N): 'x' is not a count ..."), so the messages here name only the value.
 */
final class BenchConverters {

  private BenchConverters() {}

  /** Counts as people write them: 1000, 10k, 1M, 1G, 1_000_000, 1,000 (one value). */
  static final class Count implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      return count(value);
    }
  }

  /** 20, 20s, 500ms, 2m (plain numbers are seconds); never negative. */
  static final class Time implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      Duration d = time(value);
      if (d.isNegative()) {
        throw new TypeConversionException("must not be negative, got '" + value + "'");
      }
      return d;
    }
  }

  /** A share in [0, 1), as a ratio (0.006) or a percentage (0.6%). */
  static final class Ratio implements ITypeConverter<Double> {
    @Override
    public Double convert(String value) {
      String t = value.trim();
      double scale = 1;
      if (t.endsWith("%")) {
        t = t.substring(0, t.length() - 1);
        scale = 100;
      }
      double r;
      try {
        r = Double.parseDouble(t) / scale;
      } catch (NumberFormatException e) {
        r = Double.NaN;
      }
      if (!(r >= 0 && r < 1)) {
        throw new TypeConversionException(
            "'" + value + "' is not a ratio in [0, 1) or a percentage (0.006, 0.6%)");
      }
      return r;
    }
  }

  /** storage.durability: fsync or risk-power-loss. */
  static final class Durability implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      if (!value.equals("fsync") && !value.equals("risk-power-loss")) {
        throw new TypeConversionException("must be fsync or risk-power-loss, got '" + value + "'");
      }
      return value;
    }
  }

  /** HOST:PORT, with a port number. */
  static final class HostPort implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      return hostPort(value);
    }
  }

  /** HOST:PORT, or "start" for a private redis-server. */
  static final class RedisTarget implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      return value.equals("start") ? value : hostPort(value);
    }
  }

  /** A setting of the started node, KEY=VALUE (passed to it as --set). */
  static final class Setting implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      if (value.indexOf('=') <= 0) {
        throw new TypeConversionException("takes KEY=VALUE, got '" + value + "'");
      }
      return value;
    }
  }

  /** The form of fresh ids: uuid, counter or random:LENGTH. */
  static final class IdShape implements ITypeConverter<Workload.Shape> {
    @Override
    public Workload.Shape convert(String value) {
      try {
        return Workload.Shape.parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  static long count(String v) {
    String t = v.trim().replace("_", "").replace(",", "");
    long unit = switch (t.isEmpty() ? ' ' : Character.toUpperCase(t.charAt(t.length() - 1))) {
      case 'K' -> 1_000;
      case 'M' -> 1_000_000;
      case 'G' -> 1_000_000_000;
      default -> 1;
    };
    if (unit > 1) {
      t = t.substring(0, t.length() - 1);
    }
    long n;
    try {
      n = Math.round(Double.parseDouble(t) * unit);
    } catch (NumberFormatException e) {
      n = -1;
    }
    if (n < 0) {
      throw new TypeConversionException("'" + v + "' is not a count (1000, 10k, 1M)");
    }
    return n;
  }

  static Duration time(String v) {
    String t = v.trim().toLowerCase(Locale.ROOT);
    try {
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      }
      if (t.endsWith("s")) {
        return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
      }
      if (t.endsWith("m")) {
        return Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 60_000));
      }
      return Duration.ofMillis(Math.round(Double.parseDouble(t) * 1000));
    } catch (NumberFormatException e) {
      throw new TypeConversionException("'" + v + "' is not a time (20s, 500ms, 2m)");
    }
  }

  private static String hostPort(String v) {
    int colon = v.lastIndexOf(':');
    boolean valid = colon > 0 && v.substring(colon + 1).matches("\\d{1,5}");
    if (!valid) {
      throw new TypeConversionException("takes HOST:PORT, got '" + v + "'");
    }
    return v;
  }
}
