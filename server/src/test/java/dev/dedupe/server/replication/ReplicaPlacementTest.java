package dev.dedupe.server.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Where a forming cluster puts each shard's replicas ({@link ReplicaPlacement}): distinct
 * nodes, distinct zones when there are enough, leaders and replicas spread evenly, the same
 * answer on every controller.
 */
class ReplicaPlacementTest {

  private static Map<String, String> noZones(int nodes) {
    Map<String, String> zones = new TreeMap<>();
    for (int i = 0; i < nodes; i++) {
      zones.put("node-" + i, "");
    }
    return zones;
  }

  /** {@code perZone} nodes in each of {@code zones} zones, a zone's nodes named alike. */
  private static Map<String, String> zoned(int zones, int perZone) {
    Map<String, String> out = new TreeMap<>();
    for (int z = 0; z < zones; z++) {
      for (int i = 0; i < perZone; i++) {
        out.put("node-" + (char) ('a' + z) + i, "zone-" + z);
      }
    }
    return out;
  }

  private static Map<String, Integer> replicasPerNode(List<List<String>> placement) {
    Map<String, Integer> count = new TreeMap<>();
    placement.forEach(rs -> rs.forEach(r -> count.merge(r, 1, Integer::sum)));
    return count;
  }

  private static Map<String, Integer> leadersPerNode(List<List<String>> placement) {
    Map<String, Integer> count = new TreeMap<>();
    placement.forEach(rs -> count.merge(rs.get(0), 1, Integer::sum));
    return count;
  }

  @Test
  void everyShardGetsTheFactorsNumberOfReplicasOnDistinctNodes() {
    Map<String, String> nodes = noZones(5);
    for (int factor = 1; factor <= 5; factor++) {
      List<List<String>> placement = ReplicaPlacement.place(16, nodes, factor);
      assertEquals(16, placement.size());
      for (List<String> replicas : placement) {
        assertEquals(factor, replicas.size(), replicas.toString());
        assertEquals(factor, new HashSet<>(replicas).size(), "distinct: " + replicas);
        assertTrue(nodes.keySet().containsAll(replicas));
      }
    }
  }

  @Test
  void aFactorAboveTheNodeCountIsRefusedNotCapped() {
    // Capping would form a cluster with fewer copies than configured, silently.
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ReplicaPlacement.place(4, noZones(2), 3));
    assertTrue(e.getMessage().contains("cluster.replication-factor 3"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ReplicaPlacement.place(4, noZones(2), 0));
  }

  @Test
  void leadersAndReplicasAreSpreadEvenlyWithoutZones() {
    List<List<String>> placement = ReplicaPlacement.place(12, noZones(3), 3);
    assertEquals(Map.of("node-0", 4, "node-1", 4, "node-2", 4), leadersPerNode(placement));
    assertEquals(Map.of("node-0", 12, "node-1", 12, "node-2", 12), replicasPerNode(placement));
    List<List<String>> two = ReplicaPlacement.place(10, noZones(5), 2);
    assertEquals(Set.of(2), Set.copyOf(leadersPerNode(two).values()));
    assertEquals(Set.of(4), Set.copyOf(replicasPerNode(two).values()));
  }

  @Test
  void replicasGoToDistinctZonesWhenThereAreEnough() {
    Map<String, String> unbalanced = new TreeMap<>(Map.of("n1", "z0", "n2", "z0", "n3", "z0",
        "n4", "z1", "n5", "z2"));
    for (Map<String, String> zones : List.of(zoned(3, 2), zoned(4, 1), unbalanced)) {
      for (List<String> replicas : ReplicaPlacement.place(12, zones, 3)) {
        Set<String> used = new HashSet<>();
        replicas.forEach(r -> used.add(zones.get(r)));
        assertEquals(3, used.size(), "one replica per zone: " + replicas + " of " + zones);
      }
    }
  }

  @Test
  void withFewerZonesThanReplicasEveryZoneHoldsOne() {
    Map<String, String> zones = zoned(2, 3);
    for (List<String> replicas : ReplicaPlacement.place(12, zones, 3)) {
      Set<String> used = new HashSet<>();
      replicas.forEach(r -> used.add(zones.get(r)));
      assertEquals(Set.of("zone-0", "zone-1"), used, "no zone holds every copy: " + replicas);
      assertEquals(3, new HashSet<>(replicas).size());
    }
  }

  @Test
  void leadersAndReplicasAreSpreadEvenlyAcrossZones() {
    // Nodes of one zone sort next to each other (node-a0, node-a1, node-b0, ...), as names
    // like "<zone>-<n>" do. Each zone gets its share, and so does each node in it.
    Map<String, String> zones = zoned(3, 2);
    List<List<String>> placement = ReplicaPlacement.place(12, zones, 3);
    assertEquals(Set.of(2), Set.copyOf(leadersPerNode(placement).values()),
        leadersPerNode(placement).toString());
    assertEquals(Set.of(6), Set.copyOf(replicasPerNode(placement).values()),
        replicasPerNode(placement).toString());
  }

  @Test
  void everyControllerComputesTheSamePlacement() {
    Map<String, String> sorted = zoned(3, 2);
    List<String> names = List.copyOf(sorted.keySet()).reversed();
    Map<String, String> otherOrder = new LinkedHashMap<>();
    names.forEach(n -> otherOrder.put(n, sorted.get(n)));
    Map<String, String> hashed = new HashMap<>(sorted);
    List<List<String>> expected = ReplicaPlacement.place(9, sorted, 3);
    assertEquals(expected, ReplicaPlacement.place(9, otherOrder, 3));
    assertEquals(expected, ReplicaPlacement.place(9, hashed, 3));
  }
}
