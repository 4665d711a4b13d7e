package dev.dedupe.server.replication;

import java.time.Duration;

/**
 * How a node replicates (docs/configuration.md has each key).
 *
 * @param minInSync in-sync members an entry needs to commit, already capped at the replication
 *     factor ({@code cluster.min-insync-replicas})
 * @param replicaLagMax how long an in-sync follower may stay behind the leader's end before the
 *     leader drops it from the in-sync set ({@code cluster.replica-lag-max.ms})
 * @param commitTimeout how long a round's replies wait for its commit before they fail
 *     UNAVAILABLE ({@code cluster.replication-timeout.ms})
 * @param tailBytes entries a leader keeps in memory per shard for followers to catch up from
 */
public record ReplicationSettings(
    int minInSync, Duration replicaLagMax, Duration commitTimeout, long tailBytes) {

  /** A standalone node: the leader alone, nothing to wait for but its own write. */
  public static final ReplicationSettings STANDALONE =
      new ReplicationSettings(1, Duration.ofSeconds(10), Duration.ofSeconds(5), 1 << 20);

  /** Per shard: enough for a follower to catch up from a short pause at full rate. */
  public static final long DEFAULT_TAIL_BYTES = 16L << 20;

  public ReplicationSettings {
    if (minInSync < 1) {
      throw new IllegalArgumentException("min in-sync replicas must be >= 1, was " + minInSync);
    }
  }
}
