package dev.dedupe.server.replication;

import java.util.Map;

/**
 * Told by the cluster member, after each read of the cluster state, what every shard's state is
 * and where every live node's API is; the replication runtime turns that into a role per shard
 * replica on this node (leader, follower, none).
 */
public interface ReplicaRoles {

  /**
   * @param states every shard's state, by shard
   * @param addresses live node id to its gRPC address (host:port)
   */
  void update(Map<Integer, VersionedShardState> states, Map<String, String> addresses);
}
