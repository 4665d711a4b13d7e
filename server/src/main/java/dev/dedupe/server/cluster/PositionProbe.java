package dev.dedupe.server.cluster;

import dev.dedupe.server.storage.LogPosition;
import java.util.Map;

/**
 * Asks a shard's election candidates for their log positions, so that the controller elects
 * the one that holds the most (fewer replicas to rebuild afterwards). The replication runtime
 * supplies one over gRPC; without it every candidate counts as lowest and replica order
 * decides, which is still safe: every candidate is in sync.
 */
@FunctionalInterface
public interface PositionProbe {

  /** Knows no positions: replica order decides. */
  PositionProbe NONE = (shard, candidates) -> Map.of();

  /**
   * @param candidates the in-sync replicas that are live with their in-sync store, each with
   *     that store's id: a position read from another store does not count
   * @return the positions of the candidates that answered; any may be missing
   */
  Map<String, LogPosition> positions(int shard, Map<String, String> candidates);
}
