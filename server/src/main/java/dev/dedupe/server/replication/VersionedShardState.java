package dev.dedupe.server.replication;

/**
 * A shard's state with the ZooKeeper version it was read at: the version a conditional write
 * of the next state names, so that the controller's and the leader's writes never cross.
 */
public record VersionedShardState(ShardState state, int version) {}
