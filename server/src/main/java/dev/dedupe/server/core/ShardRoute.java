package dev.dedupe.server.core;

import dev.dedupe.server.decision.Unhandled;
import dev.dedupe.server.shard.ShardWriter;

/** Where the ids of one shard go, as this node sees it at one moment. */
public sealed interface ShardRoute {

  /** This node serves the shard: hand the ids to its writer. */
  record Local(ShardWriter writer) implements ShardRoute {}

  /** This node does not serve the shard now: answer each id UNAVAILABLE with the reason. */
  record NotHere(Unhandled why) implements ShardRoute {}
}
