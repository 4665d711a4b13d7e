package dev.dedupe.server.replication.sim;

import java.util.Map;
import java.util.TreeMap;

/** One entry of a shard's log: its leader's epoch, its seq, and final-state ops (id to token). */
public record Entry(long epoch, long seq, Map<String, String> ops) {
  public Entry {
    ops = java.util.Collections.unmodifiableMap(new TreeMap<>(ops));
  }

  @Override
  public String toString() {
    return "(" + epoch + "," + seq + ")" + (ops.isEmpty() ? "" : ops);
  }
}
