package dev.dedupe.server.shard;

import dev.dedupe.server.storage.StorageException;

/**
 * The node stopped serving while a round was pending or running: its ZooKeeper session may be
 * gone, so it must not answer. Answered UNAVAILABLE. When raised after the round's write, the
 * ids may be recorded: a retry with the same attempt token hears NEW (replay).
 */
public final class ShardFencedException extends StorageException {

  public ShardFencedException(int shard, boolean afterWrite) {
    super("shard " + shard + ": this node stopped serving (cut off from ZooKeeper)"
        + (afterWrite ? " while the round was being written; its ids may be recorded, so retry"
            + " with the same attempt_token" : "; nothing was recorded"));
  }
}
