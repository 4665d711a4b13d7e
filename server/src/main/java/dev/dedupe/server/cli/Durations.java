package dev.dedupe.server.cli;

import java.time.Duration;

/** Durations as people write them: 24h, 90m, 1h30m, 15s. */
final class Durations {

  private Durations() {}

  static String human(Duration d) {
    if (d.isZero()) {
      return "0s";
    }
    StringBuilder out = new StringBuilder();
    long hours = d.toHours();
    if (hours > 0) {
      out.append(hours).append('h');
    }
    if (d.toMinutesPart() > 0) {
      out.append(d.toMinutesPart()).append('m');
    }
    if (d.toSecondsPart() > 0 || d.toMillisPart() > 0) {
      out.append(d.toSecondsPart());
      if (d.toMillisPart() > 0) {
        out.append('.').append(String.format("%03d", d.toMillisPart()));
      }
      out.append('s');
    }
    return out.toString();
  }
}
