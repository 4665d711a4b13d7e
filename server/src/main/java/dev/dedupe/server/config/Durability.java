package dev.dedupe.server.config;

import java.util.Locale;

/** When a write counts as done, named for what each choice risks. */
public enum Durability {
  /**
   * The write-ahead log is synced to disk (fdatasync) before the reply. An id answered NEW
   * survives a process crash and a power loss. Concurrent writes to a shard share one sync.
   */
  FSYNC("fsync"),
  /**
   * The write-ahead log is written to the OS page cache but not synced before the reply. An id
   * answered NEW survives a process crash (SIGKILL included) but may be lost if the machine
   * loses power or the kernel crashes within the OS's write-back delay (seconds).
   */
  RISK_POWER_LOSS("risk-power-loss");

  private final String configName;

  Durability(String configName) {
    this.configName = configName;
  }

  /** The spelling used in configuration files. */
  public String configName() {
    return configName;
  }

  /** Parses the configuration spelling ("fsync", "risk-power-loss"). */
  public static Durability parse(String value) {
    String normalized = value.trim().toLowerCase(Locale.ROOT);
    for (Durability d : values()) {
      if (d.configName.equals(normalized)) {
        return d;
      }
    }
    throw new IllegalArgumentException(
        "storage.durability must be 'fsync' or 'risk-power-loss', was '" + value + "'");
  }
}
