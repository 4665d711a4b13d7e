package dev.dedupe.server.moves;

import dev.dedupe.server.replication.ShardState;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What the planners see of a cluster, read once: every shard's state, the live nodes with their
 * zones, what each live node has open, and the drained nodes. Immutable, so that a planner is
 * a pure function of it (and tests build one by hand).
 *
 * @param shards every shard's state, by shard
 * @param liveZones each registered node's zone ("" when it declares none)
 * @param liveStores per shard, each live node with the shard open and the store it publishes
 * @param drained the nodes marked drained: they get no new replica and no leadership
 */
public record PlacementView(SortedMap<Integer, ShardState> shards, Map<String, String> liveZones,
    Map<Integer, Map<String, String>> liveStores, Set<String> drained) {

  public PlacementView {
    shards = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(shards));
    liveZones = Map.copyOf(liveZones);
    liveStores = Map.copyOf(liveStores);
    drained = Set.copyOf(drained);
  }

  /** The nodes that may get replicas and leaderships: live and not drained, sorted. */
  public List<String> eligible() {
    return new TreeSet<>(liveZones.keySet()).stream().filter(n -> !drained.contains(n)).toList();
  }

  /** A node's zone; "" for one that declares none or is not live (its zone is not known). */
  public String zone(String node) {
    return liveZones.getOrDefault(node, "");
  }

  public boolean live(String node) {
    return liveZones.containsKey(node);
  }

  /** Whether {@code node} may lead {@code shard} now: in sync and live with that store. */
  public boolean mayLead(ShardState shard, String node) {
    String inSync = shard.isr().get(node);
    String live = liveStores.getOrDefault(shard.shard(), Map.of()).get(node);
    return inSync != null && live != null && (inSync.isEmpty() || inSync.equals(live));
  }
}
