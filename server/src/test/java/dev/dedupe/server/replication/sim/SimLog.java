package dev.dedupe.server.replication.sim;

import dev.dedupe.server.replication.LogHistory;
import dev.dedupe.server.storage.LogPosition;
import java.util.Map;
import java.util.TreeMap;

/**
 * The durable part of one shard replica on one node's disk: its store id, its records (the
 * dedupe model: id to the first writer's attempt token), its position and epoch history. Each
 * apply is one atomic write batch: ops, position and epoch history together.
 */
public final class SimLog {

  final String storeId;
  private final TreeMap<String, String> records = new TreeMap<>();
  private LogHistory history = LogHistory.EMPTY;

  SimLog(String storeId) {
    this.storeId = storeId;
  }

  public LogPosition end() {
    return history.end();
  }

  public LogHistory history() {
    return history;
  }

  public String get(String id) {
    return records.get(id);
  }

  public Map<String, String> records() {
    return java.util.Collections.unmodifiableMap(records);
  }

  void apply(Entry e) {
    if (e.seq() != history.end().seq() + 1) {
      throw new IllegalStateException(storeId + ": entry " + e + " applied after " + history.end());
    }
    history = history.append(e.epoch());
    records.putAll(e.ops());
  }

  /** Replaces this replica's copy of the shard with a snapshot of the leader's. */
  void replaceWith(Map<String, String> snapshot, LogHistory at) {
    records.clear();
    records.putAll(snapshot);
    history = at;
  }

  TreeMap<String, String> copyRecords() {
    return new TreeMap<>(records);
  }
}
