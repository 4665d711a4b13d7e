package dev.dedupe.server.moves;

import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The one rule for where a replica that must leave a node goes (a drain, a decommission, a
 * heal): a live, non-drained node that is no replica of the shard yet; in a zone none of the
 * shard's other replicas is in, when nodes declare zones; among those, the node with the
 * fewest replicas, ties to the smaller node id, so that every controller and every test
 * computes the same choice. Pure.
 */
public final class ReplicaChoice {

  /** The chosen node, or why there is none. */
  public record Result(Optional<String> node, String refusal) {}

  private ReplicaChoice() {}

  /**
   * @param replicas the shard's replicas (as planned so far), {@code source} among them
   * @param source the replica that leaves
   * @param replicaCounts replicas per node, as planned so far (absent counts as 0)
   */
  public static Result target(PlacementView view, int shard, List<String> replicas,
      String source, Map<String, Integer> replicaCounts) {
    List<String> candidates = view.eligible().stream().filter(n -> !replicas.contains(n)).toList();
    if (candidates.isEmpty()) {
      return new Result(Optional.empty(), "no live, non-drained node that holds no replica of"
          + " shard " + shard + " (replicas " + replicas + ", live and not drained: "
          + view.eligible() + "); start another node or undrain one");
    }
    Set<String> othersZones = new TreeSet<>();
    replicas.stream().filter(r -> !r.equals(source)).map(view::zone)
        .filter(z -> !z.isEmpty()).forEach(othersZones::add);
    List<String> zoneKeeping = candidates.stream()
        .filter(n -> view.zone(n).isEmpty() || !othersZones.contains(view.zone(n))).toList();
    List<String> pool = zoneKeeping;
    if (pool.isEmpty()) {
      if (distinctZones(view, replicas)) {
        return new Result(Optional.empty(), "no live, non-drained node outside zones "
            + othersZones + " to keep shard " + shard + "'s replicas in distinct zones"
            + " (candidates " + candidates + " are all in those zones); start a node in"
            + " another zone");
      }
      pool = candidates; // the shard was not spread over distinct zones before either
    }
    Comparator<String> fewest = Comparator.comparingInt(n -> replicaCounts.getOrDefault(n, 0));
    return new Result(pool.stream().min(fewest.thenComparing(Comparator.naturalOrder())), "");
  }

  /** Whether every replica has a known zone and no two share one. */
  static boolean distinctZones(PlacementView view, List<String> replicas) {
    Set<String> zones = new TreeSet<>();
    for (String r : replicas) {
      String z = view.zone(r);
      if (z.isEmpty() || !zones.add(z)) {
        return false;
      }
    }
    return true;
  }

  /** Replicas per node over every shard of {@code view}. */
  public static Map<String, Integer> replicaCounts(PlacementView view) {
    Map<String, Integer> counts = new java.util.TreeMap<>();
    view.shards().values().forEach(s -> s.replicas().forEach(r -> counts.merge(r, 1, Integer::sum)));
    return counts;
  }
}
