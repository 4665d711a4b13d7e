package dev.dedupe.server.replication;

import dev.dedupe.server.storage.LogPosition;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The controller's rule for who leads a shard. Pure: the controller (and the simulation) give
 * it what they read of ZooKeeper and of the replicas, and write what it returns, fenced.
 *
 * <p>A leader keeps leading while its node is live with the store it is in sync with. When it
 * is not, the new leader comes from the in-sync set only, and only a member whose node is live
 * with the very store it is in sync with (a node back with an empty disk is not the replica
 * that acknowledged). Among those, the one with the highest log position leads (fewer
 * replicas need rebuilding afterwards); positions not known count as lowest; ties go to
 * replica order, the preferred leader first. The old leader leaves the in-sync set: it may
 * hold entries no one else has, and must catch up (or be rebuilt) before it counts again.
 * With no eligible member the shard is left without a leader, in-sync set unchanged, so that
 * the last in-sync replica can lead again when it returns (never an empty store; an admin's
 * {@link #unclean} is the only way past that).
 */
public final class LeaderElection {

  private LeaderElection() {}

  /**
   * The state the controller should write for {@code current}, or empty if it stands.
   *
   * @param liveStores for each live node that holds this shard open, the store id it
   *     published; a node absent here is down (its session is gone) or has the shard closed
   * @param positions log positions of replicas that answered a probe; may be empty
   */
  public static Optional<ShardState> decide(
      ShardState current, Map<String, String> liveStores, Map<String, LogPosition> positions) {
    return decide(current, liveStores, positions, Set.of());
  }

  /**
   * As {@link #decide(ShardState, Map, Map)}, electing a node that is stopping (its
   * registration says so) only when no other eligible member can lead: it is about to go, and
   * a leadership given to it would fail over again at once.
   *
   * @param stopping the live nodes that are stopping
   */
  public static Optional<ShardState> decide(ShardState current, Map<String, String> liveStores,
      Map<String, LogPosition> positions, Set<String> stopping) {
    if (current.hasLeader() && eligible(current, current.leader(), liveStores)) {
      return Optional.empty();
    }
    Optional<String> next = current.replicas().stream()
        .filter(r -> !r.equals(current.leader()))
        .filter(r -> eligible(current, r, liveStores))
        .max(Comparator.comparing((String r) -> !stopping.contains(r))
            .thenComparing((String r) -> positions.getOrDefault(r, LogPosition.EMPTY))
            .thenComparing(r -> -current.replicas().indexOf(r)));
    if (next.isEmpty()) {
      if (!current.hasLeader()) {
        return Optional.empty(); // offline already; nothing changes until someone returns
      }
      // Leaderless at a new epoch, which fences anything the old leader still sends. The
      // in-sync set keeps the old leader: it may be the only replica with every entry.
      return Optional.of(current.withLeader(ShardState.NO_LEADER, current.isr()));
    }
    Map<String, String> isr = new LinkedHashMap<>(current.isr());
    if (current.hasLeader()) {
      isr.remove(current.leader());
    }
    return Optional.of(current.withLeader(next.get(), isr));
  }

  /**
   * The controller's shrink of a led shard's in-sync set when followers are gone: a member
   * whose node is no longer registered (its session ended) or that is back with another store
   * (its disk was lost) leaves the set, as Kafka's controller does when a broker dies. Without
   * it, a leader would wait up to {@code cluster.replica-lag-max} for a dead follower before
   * dropping it itself, and fail every round meanwhile.
   *
   * <p>Safe because the leader acknowledges a round only when every member of the in-sync set
   * it last read has it: removing a member only lets the leader stop waiting for it after it has
   * read the smaller set, and the member's copy counts again only when the leader adds it back
   * after it caught up. A member registered without a store for the shard is opening it (a node
   * registers before it opens its shards) and stays. A leaderless shard keeps its set: its
   * members are the only replicas that may lead again.
   *
   * @param registered the nodes registered now
   * @param liveStores for each registered node with the shard open, the store it publishes
   * @return the state without the departed members, or empty if none departed
   */
  public static Optional<ShardState> withoutDeparted(
      ShardState current, Set<String> registered, Map<String, String> liveStores) {
    if (!current.hasLeader()) {
      return Optional.empty();
    }
    Map<String, String> isr = new LinkedHashMap<>(current.isr());
    boolean changed = isr.entrySet().removeIf(member -> {
      String node = member.getKey();
      if (node.equals(current.leader())) {
        return false;
      }
      String live = liveStores.get(node);
      boolean gone = !registered.contains(node);
      boolean otherStore = live != null && !member.getValue().isEmpty()
          && !member.getValue().equals(live);
      return gone || otherStore;
    });
    return changed ? Optional.of(current.withIsr(isr)) : Optional.empty();
  }

  /**
   * An admin's unclean election, for when no in-sync replica can ever return: {@code node}
   * leads with whatever its store holds, in sync alone. Ids acknowledged by the lost replicas
   * and missing from this store may be NEW again; the caller must say so.
   *
   * @throws IllegalArgumentException if {@code node} is not a live replica of the shard
   */
  public static ShardState unclean(ShardState current, String node, Map<String, String> liveStores) {
    if (!current.replicas().contains(node)) {
      throw new IllegalArgumentException("node " + node + " holds no replica of shard "
          + current.shard() + " (replicas " + current.replicas() + ")");
    }
    String store = liveStores.get(node);
    if (store == null || store.isEmpty()) {
      throw new IllegalArgumentException("node " + node + " is not running with shard "
          + current.shard() + " open; start it first");
    }
    return current.withLeader(node, Map.of(node, store));
  }

  /** Whether {@code node} may lead: in sync, live, and with the store it is in sync with. */
  static boolean eligible(ShardState s, String node, Map<String, String> liveStores) {
    String inSyncStore = s.isr().get(node);
    String live = liveStores.get(node);
    if (inSyncStore == null || live == null) {
      return false;
    }
    // A store not yet recorded is the formation case: the first leader before the controller
    // recorded its store. It has acknowledged nothing, so any store it has open may lead.
    return inSyncStore.isEmpty() || inSyncStore.equals(live);
  }

  /** Whether every replica is in sync. */
  public static boolean fullyReplicated(ShardState s) {
    return s.hasLeader() && s.isr().size() == s.replicas().size();
  }

  /** Replicas not in sync, in replica order. */
  public static List<String> outOfSync(ShardState s) {
    return s.replicas().stream().filter(r -> !s.inSync(r)).toList();
  }
}
