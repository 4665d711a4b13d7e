package dev.dedupe.server.config;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How long an id stays DUPLICATE, per namespace.
 *
 * <p>Windows count in server wall-clock time from when an id was first recorded. Message ids
 * carry no event time we could trust, and a window that followed the newest time seen would
 * stop moving when traffic stops, keeping ids DUPLICATE for longer than promised.
 *
 * @param defaultWindow the window of every namespace not listed ({@code window.default.hours})
 * @param floor the effective window below which the node logs a warning
 *     ({@code window.floor.hours}); a namespace with a shorter window is compared with its own
 * @param perNamespace windows for named namespaces ({@code namespaces.NAME.window.hours})
 */
public record WindowConfig(Duration defaultWindow, Duration floor, Map<String, Duration> perNamespace) {

  public WindowConfig {
    Objects.requireNonNull(defaultWindow, "window.default.hours");
    Objects.requireNonNull(floor, "window.floor.hours");
    perNamespace = Map.copyOf(perNamespace);
    requirePositive("window.default.hours", defaultWindow);
    perNamespace.forEach((ns, w) -> requirePositive("namespaces." + ns + ".window.hours", w));
    if (floor.isNegative()) {
      throw new IllegalArgumentException("window.floor.hours must be >= 0, was " + floor);
    }
  }

  /** The window in force for a namespace. */
  public Duration windowFor(String namespace) {
    return perNamespace.getOrDefault(namespace, defaultWindow);
  }

  /** The longest window of any namespace: data older than this is past every window. */
  public Duration longest() {
    Duration longest = defaultWindow;
    for (Duration w : perNamespace.values()) {
      if (w.compareTo(longest) > 0) {
        longest = w;
      }
    }
    return longest;
  }

  /** The effective window under which a namespace's warning fires. */
  public Duration floorFor(String namespace) {
    Duration window = windowFor(namespace);
    return window.compareTo(floor) < 0 ? window : floor;
  }

  private static void requirePositive(String key, Duration d) {
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(key + " must be positive, was " + d);
    }
  }
}
