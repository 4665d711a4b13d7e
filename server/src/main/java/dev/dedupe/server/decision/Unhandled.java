package dev.dedupe.server.decision;

/**
 * Why this node did not handle an id: answered UNAVAILABLE per id, never with a guessed
 * verdict.
 *
 * @param reason in English, for the caller's logs
 * @param owner the node that owns the id's shard, when known (null when the cluster has not
 *     formed); the caller re-sends there
 */
public record Unhandled(String reason, ShardMap.Owner owner) {}
