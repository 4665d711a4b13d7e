package dev.dedupe.server.replication;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One shard's replication state, as ZooKeeper holds it: its replicas, its leader, the leader's
 * epoch and the in-sync set. Immutable. Only the controller changes the leader (and with it
 * the epoch); only the leader changes the in-sync set, and only at its own epoch. Both write
 * it conditionally on the version they read, so the two never overwrite each other.
 *
 * @param shard the shard
 * @param replicas the nodes that hold a replica, preferred leader first; distinct
 * @param leader the node that leads at {@code epoch}, or "" when no in-sync replica can lead
 *     (the shard is offline until one returns, or an admin elects an unclean leader)
 * @param epoch the leader epoch: goes up by one on every change of leader, "" included. A
 *     replica accepts writes only from the leader of the newest epoch it knows
 * @param isr the in-sync replicas, each with the identity of the store it was in sync with:
 *     node to store id. The leader acknowledges a write only when every member has it durable.
 *     Membership is per store, not per node: a node that comes back with another store (its
 *     disk was lost) is not in sync, whatever its id. A store id of "" is not recorded yet
 *     (the leader's own, until the controller records it at formation)
 */
public record ShardState(
    int shard, List<String> replicas, String leader, long epoch, Map<String, String> isr) {

  public static final String NO_LEADER = "";

  public ShardState {
    replicas = List.copyOf(replicas);
    isr = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(isr));
    Objects.requireNonNull(leader, "leader");
    if (replicas.isEmpty()) {
      throw new IllegalArgumentException("shard " + shard + " has no replicas");
    }
    if (replicas.stream().distinct().count() != replicas.size()) {
      throw new IllegalArgumentException("shard " + shard + " names a replica twice: " + replicas);
    }
    if (!leader.isEmpty() && !replicas.contains(leader)) {
      throw new IllegalArgumentException(
          "shard " + shard + ": leader " + leader + " is not a replica of " + replicas);
    }
    for (String member : isr.keySet()) {
      if (!replicas.contains(member)) {
        throw new IllegalArgumentException(
            "shard " + shard + ": in-sync member " + member + " is not a replica of " + replicas);
      }
    }
  }

  /** A new shard: the first replica leads at epoch 1, in sync alone, its store not recorded. */
  public static ShardState formed(int shard, List<String> replicas) {
    return new ShardState(shard, replicas, replicas.get(0), 1, Map.of(replicas.get(0), ""));
  }

  public boolean hasLeader() {
    return !leader.isEmpty();
  }

  public boolean isLeader(String node) {
    return hasLeader() && leader.equals(node);
  }

  public boolean inSync(String node) {
    return isr.containsKey(node);
  }

  /** The replicas other than the leader. */
  public List<String> followers() {
    return replicas.stream().filter(r -> !r.equals(leader)).toList();
  }

  /** The same state with another in-sync set, at the same epoch (a leader's change). */
  public ShardState withIsr(Map<String, String> newIsr) {
    return new ShardState(shard, replicas, leader, epoch, newIsr);
  }

  /** The same state with one more in-sync member at {@code store}. */
  public ShardState withInSync(String node, String store) {
    Map<String, String> next = new LinkedHashMap<>(isr);
    next.put(node, store);
    return withIsr(next);
  }

  /** The same state without {@code node} in the in-sync set. */
  public ShardState withoutInSync(String node) {
    Map<String, String> next = new LinkedHashMap<>(isr);
    next.remove(node);
    return withIsr(next);
  }

  /** A new leader ("" for none) with its in-sync set, at the next epoch (a controller's change). */
  public ShardState withLeader(String newLeader, Map<String, String> newIsr) {
    return new ShardState(shard, replicas, newLeader, epoch + 1, newIsr);
  }

  /** The same state with other replicas (a move); the leader and in-sync set must stay valid. */
  public ShardState withReplicas(List<String> newReplicas) {
    return new ShardState(shard, newReplicas, leader, epoch, isr);
  }

  /** The in-sync members in replica order, for display. */
  public List<String> isrInReplicaOrder() {
    List<String> ordered = new ArrayList<>();
    for (String r : replicas) {
      if (isr.containsKey(r)) {
        ordered.add(r);
      }
    }
    return ordered;
  }
}
