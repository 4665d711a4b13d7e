package dev.dedupe.server.shard;

/**
 * A shard's queue of pending work is full: the node is receiving ids faster than it can make
 * them durable. Answered RESOURCE_EXHAUSTED so that clients back off and retry.
 */
public final class ShardOverloadedException extends RuntimeException {

  public ShardOverloadedException(int shard, int queueCapacity) {
    super("shard " + shard + " has " + queueCapacity + " requests waiting; retry with backoff");
  }
}
