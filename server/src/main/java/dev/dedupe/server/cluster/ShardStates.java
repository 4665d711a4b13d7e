package dev.dedupe.server.cluster;

import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.replication.VersionedShardState;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Every shard's state as read from ZooKeeper, each with the version it was read at: what the
 * {@code assignment} znode was before replication, as a view over the per-shard znodes.
 *
 * @param byShard shard to its state, for shards 0 to N-1
 */
public record ShardStates(SortedMap<Integer, VersionedShardState> byShard) {

  public ShardStates {
    byShard = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(byShard));
  }

  public int shardCount() {
    return byShard.size();
  }

  public ShardState state(int shard) {
    return byShard.get(shard).state();
  }

  public VersionedShardState versioned(int shard) {
    return byShard.get(shard);
  }

  /** The shards {@code nodeId} holds a replica of, leader or follower. */
  public List<Integer> replicaOf(String nodeId) {
    return byShard.values().stream().map(VersionedShardState::state)
        .filter(s -> s.replicas().contains(nodeId)).map(ShardState::shard).toList();
  }

  /** The shards {@code nodeId} leads. */
  public List<Integer> ledBy(String nodeId) {
    return byShard.values().stream().map(VersionedShardState::state)
        .filter(s -> s.isLeader(nodeId)).map(ShardState::shard).toList();
  }

  /** Shard to state, without versions (for admin views and metrics). */
  public Map<Integer, ShardState> states() {
    Map<Integer, ShardState> states = new TreeMap<>();
    byShard.forEach((shard, v) -> states.put(shard, v.state()));
    return states;
  }
}
