package dev.dedupe.server.moves;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * When each node that holds replicas stopped being registered, as this controller saw it, on
 * the monotonic clock. In memory only: a new controller starts counting from its own takeover,
 * so a failover delays a heal by up to one more {@code cluster.replace-dead-node-after} rather
 * than trusting another node's clock or writing a timestamp on every change of the nodes.
 * Not thread-safe: the controller thread only.
 */
public final class DeadNodeClock {

  private final Map<String, Long> goneSinceNanos = new TreeMap<>();

  /**
   * Notes the nodes seen now and returns those gone at least {@code afterNanos}, sorted.
   *
   * @param holding the nodes that hold a replica of some shard
   * @param registered the nodes registered now
   */
  public List<String> observe(Set<String> holding, Set<String> registered, long nowNanos,
      long afterNanos) {
    goneSinceNanos.keySet().removeIf(n -> registered.contains(n) || !holding.contains(n));
    List<String> due = new ArrayList<>();
    for (String node : new java.util.TreeSet<>(holding)) {
      if (registered.contains(node)) {
        continue;
      }
      long since = goneSinceNanos.computeIfAbsent(node, n -> nowNanos);
      if (nowNanos - since >= afterNanos) {
        due.add(node);
      }
    }
    return due;
  }

  /** Nanoseconds until the next node not yet due becomes due, or -1 if none is counting. */
  public long nanosUntilNext(long nowNanos, long afterNanos) {
    return goneSinceNanos.values().stream().mapToLong(since -> since + afterNanos - nowNanos)
        .filter(d -> d > 0).min().orElse(-1);
  }

  /** Forgets everything: a controller that lost its leadership counts anew when elected. */
  public void reset() {
    goneSinceNanos.clear();
  }
}
