package dev.dedupe.server.moves;

/**
 * What a job changes. Later kinds (a drain's or a rebalance's steps) are plans of these: a
 * plan creates many jobs that share a plan id, so the controller only ever runs these two.
 */
public enum MoveKind {
  /** Move one replica of a shard from one node to another, with its data. */
  MOVE,
  /** Move a shard's leadership to another in-sync replica; no data moves. */
  TRANSFER_LEADER
}
