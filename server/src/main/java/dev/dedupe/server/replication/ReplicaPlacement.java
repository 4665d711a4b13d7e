package dev.dedupe.server.replication;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Where a new cluster puts each shard's replicas: on distinct nodes, across distinct zones
 * when the nodes declare them, with the preferred leaders (first replicas) and the replicas
 * spread evenly over the nodes (over each zone's nodes, when zones are balanced).
 * Deterministic (nodes are sorted), so every controller computes the same placement.
 */
public final class ReplicaPlacement {

  private ReplicaPlacement() {}

  /**
   * Replicas per shard, preferred leader first.
   *
   * @param zones node id to its zone ("" when it declares none)
   * @param factor replicas per shard; more than the nodes there are is an error
   */
  public static List<List<String>> place(int shardCount, Map<String, String> zones, int factor) {
    List<String> nodes = ring(zones);
    if (factor < 1 || factor > nodes.size()) {
      throw new IllegalArgumentException("cluster.replication-factor " + factor
          + " needs at least as many nodes; " + nodes.size() + " registered: " + nodes);
    }
    List<List<String>> placement = new ArrayList<>(shardCount);
    for (int s = 0; s < shardCount; s++) {
      List<String> replicas = new ArrayList<>(factor);
      Set<String> zonesUsed = new HashSet<>();
      // Walk the ring from this shard's starting node: first pass takes only new zones (rack
      // awareness), the second fills up when there are fewer zones than replicas.
      for (int pass = 0; pass < 2 && replicas.size() < factor; pass++) {
        for (int i = 0; i < nodes.size() && replicas.size() < factor; i++) {
          String node = nodes.get((s + i) % nodes.size());
          String zone = zones.get(node);
          boolean newZone = zone.isEmpty() || !zonesUsed.contains(zone);
          if (!replicas.contains(node) && (pass == 1 || newZone)) {
            replicas.add(node);
            zonesUsed.add(zone);
          }
        }
      }
      placement.add(List.copyOf(replicas));
    }
    return placement;
  }

  /**
   * The nodes in the order the placement walks them: sorted, then alternating between zones
   * (the first node of each zone, then the second of each, ...), as Kafka's rack-aware
   * assignment does. Walking zone-sorted nodes instead would give the first node of each zone
   * most replicas whenever a zone's nodes sort next to each other. Without zones this is the
   * sorted order.
   */
  private static List<String> ring(Map<String, String> zones) {
    Map<String, List<String>> byZone = new TreeMap<>();
    new TreeMap<>(zones).forEach((node, zone) ->
        byZone.computeIfAbsent(zone, z -> new ArrayList<>()).add(node));
    List<String> ring = new ArrayList<>(zones.size());
    for (int i = 0; ring.size() < zones.size(); i++) {
      for (List<String> inZone : byZone.values()) {
        if (i < inZone.size()) {
          ring.add(inZone.get(i));
        }
      }
    }
    return ring;
  }
}
