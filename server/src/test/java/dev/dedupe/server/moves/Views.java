package dev.dedupe.server.moves;

import dev.dedupe.server.replication.ShardState;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/** Hand-built {@link PlacementView}s: every replica in sync and live with store s-NODE. */
final class Views {

  private Views() {}

  /**
   * @param zones live node to zone
   * @param replicas per shard (index = shard), leader first
   */
  static PlacementView view(Map<String, String> zones, List<List<String>> replicas,
      Set<String> drained) {
    SortedMap<Integer, ShardState> shards = new TreeMap<>();
    Map<Integer, Map<String, String>> stores = new TreeMap<>();
    for (int s = 0; s < replicas.size(); s++) {
      Map<String, String> isr = new LinkedHashMap<>();
      Map<String, String> live = new TreeMap<>();
      for (String r : replicas.get(s)) {
        isr.put(r, "s-" + r);
        if (zones.containsKey(r)) {
          live.put(r, "s-" + r);
        }
      }
      String leader = replicas.get(s).stream().filter(zones::containsKey).findFirst().orElse("");
      if (!leader.isEmpty() && !leader.equals(replicas.get(s).get(0))) {
        isr.remove(replicas.get(s).get(0)); // a dead first replica was dropped at the election
      }
      shards.put(s, new ShardState(s, replicas.get(s), leader, 3, isr));
      stores.put(s, live);
    }
    return new PlacementView(shards, zones, stores, drained);
  }

  /** Live nodes without zones. */
  static Map<String, String> nodes(String... ids) {
    Map<String, String> zones = new TreeMap<>();
    for (String id : ids) {
      zones.put(id, "");
    }
    return zones;
  }

  /** {@code shards} shards with {@code factor} replicas each, placed round-robin over nodes. */
  static List<List<String>> roundRobin(List<String> nodes, int shards, int factor) {
    List<List<String>> out = new java.util.ArrayList<>();
    for (int s = 0; s < shards; s++) {
      List<String> r = new java.util.ArrayList<>();
      for (int i = 0; i < factor; i++) {
        r.add(nodes.get((s + i) % nodes.size()));
      }
      out.add(r);
    }
    return out;
  }
}
