package dev.dedupe.server.core;

import dev.dedupe.server.decision.ShardMap;
/**
 * Which shards this node serves, and who serves the rest: the routing seam between the engine
 * and coordination. A standalone node serves every shard; a cluster member follows the
 * assignment in ZooKeeper and stops serving while its session is suspended.
 */
public interface ShardDirectory {

  int shardCount();

  /** Where the ids of {@code shard} go now. */
  ShardRoute route(int shard);

  /** The shard map clients route by. */
  ShardMap map();

  /** Calls {@code listener} after every change of {@link #map()}; returns a handle to stop. */
  AutoCloseable onMapChange(Runnable listener);

  /** Whether this node can serve what it owns now (readiness). */
  boolean isServing();
}
