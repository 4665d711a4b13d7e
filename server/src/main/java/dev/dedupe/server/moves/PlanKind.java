package dev.dedupe.server.moves;

/** Why a plan was made: what its jobs do together. */
public enum PlanKind {
  /** An admin's drain: every leadership, then every replica, off one node, which stays drained. */
  DRAIN,
  /** A drain that, once the node holds nothing, records the node as gone for good. */
  DECOMMISSION,
  /** An admin's rebalance: replicas, then leaders, evened out over the live, non-drained nodes. */
  REBALANCE,
  /** The controller's re-replication of a node gone longer than cluster.replace-dead-node-after. */
  HEAL
}
