package dev.dedupe.server.decision;

import java.util.List;

/**
 * Which address serves which shard, as clients route by it.
 *
 * @param shardCount shards in the data directory (later: the cluster)
 * @param hash the shard hash's name (see {@code dev.dedupe.contract.ShardHash})
 * @param owners one per shard, in shard order
 */
public record ShardMap(int shardCount, String hash, List<Owner> owners) {

  /**
   * The node serving one shard, and the shard's ownership epoch.
   *
   * @param address host:port of its API, or "" when it is not registered now
   * @param nodeId its node id, or "" for a standalone node or an unformed cluster
   */
  public record Owner(int shard, String address, long epoch, String nodeId) {}

  /** A standalone node: every shard at one address, epoch 0. */
  public static ShardMap standalone(int shardCount, String hash, String address) {
    return new ShardMap(shardCount, hash,
        java.util.stream.IntStream.range(0, shardCount)
            .mapToObj(s -> new Owner(s, address, 0, "")).toList());
  }
}
