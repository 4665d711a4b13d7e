package dev.dedupe.server.cluster;

import dev.dedupe.server.replication.LeaderElection;
import dev.dedupe.server.replication.ShardState;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The controller's step for one shard, given what ZooKeeper shows of the nodes: elect a leader
 * when the one named cannot lead ({@link LeaderElection}, the protocol's rule), else drop
 * departed followers from the in-sync set, else record the leader's store when it is not
 * recorded yet. Pure, apart from the position probe it may ask.
 */
final class ShardStewardship {

  private ShardStewardship() {}

  /**
   * The state to write for {@code current}, or empty if it stands.
   *
   * @param registered the nodes registered now
   * @param liveStores for each registered node with this shard open, the store it publishes
   */
  static Optional<ShardState> next(ShardState current, Set<String> registered,
      Map<String, String> liveStores, PositionProbe probe) {
    return next(current, registered, liveStores, Set.of(), probe);
  }

  /** As above; a stopping node is elected only when no other member can lead. */
  static Optional<ShardState> next(ShardState current, Set<String> registered,
      Map<String, String> liveStores, Set<String> stopping, PositionProbe probe) {
    if (current.hasLeader() && registered.contains(current.leader())
        && !liveStores.containsKey(current.leader())) {
      // A node registers before it opens its shards: a live leader without a store for this
      // shard is opening it, not gone. Electing past it would only bump the epoch; its next
      // registration update brings it back here.
      return Optional.empty();
    }
    Optional<ShardState> elected = LeaderElection.decide(current, liveStores, Map.of(), stopping);
    if (elected.isPresent() && elected.get().hasLeader() && probe != PositionProbe.NONE) {
      Set<String> candidates = candidates(current, liveStores);
      if (candidates.size() > 1) {
        elected = LeaderElection.decide(current, liveStores,
            probe.positions(current.shard(), inSyncStores(current, candidates)), stopping);
      }
    }
    if (elected.isPresent()) {
      return elected;
    }
    Optional<ShardState> shrunk = LeaderElection.withoutDeparted(current, registered, liveStores);
    if (shrunk.isPresent()) {
      return shrunk;
    }
    // The leader stands. Record its store if the shard's state has none for it yet (a new
    // cluster, a migrated one, a moved shard): from then on only that store may lead.
    if (current.hasLeader() && current.isr().getOrDefault(current.leader(), "x").isEmpty()) {
      String store = liveStores.get(current.leader());
      if (store != null) {
        return Optional.of(current.withInSync(current.leader(), store));
      }
    }
    return Optional.empty();
  }

  /** In-sync members other than the leader, live with the store they are in sync with. */
  private static Set<String> candidates(ShardState s, Map<String, String> liveStores) {
    Set<String> candidates = new TreeSet<>();
    s.isr().forEach((node, store) -> {
      String live = liveStores.get(node);
      if (!node.equals(s.leader()) && live != null && (store.isEmpty() || store.equals(live))) {
        candidates.add(node);
      }
    });
    return candidates;
  }

  /** The candidates with the stores they are in sync with: a probe counts only those stores. */
  private static Map<String, String> inSyncStores(ShardState current, Set<String> candidates) {
    Map<String, String> stores = new java.util.TreeMap<>();
    candidates.forEach(c -> stores.put(c, current.isr().get(c)));
    return stores;
  }
}
