package dev.dedupe.server.shard;

import dev.dedupe.server.storage.StorageException;

/**
 * This replica does not lead its shard now (it follows, was deposed, is becoming leader, or
 * its data is being replaced), or it stopped leading while a round waited: it must not answer.
 * Answered UNAVAILABLE. When raised after the round's write, the ids may be recorded: a retry
 * with the same attempt token hears NEW (replay).
 */
public final class ShardFencedException extends StorageException {

  public ShardFencedException(int shard, boolean afterWrite) {
    super("shard " + shard + ": this node does not lead the shard now"
        + (afterWrite ? " (it stopped leading while the round was being replicated; its ids may"
            + " be recorded, so retry with the same attempt_token)" : "; nothing was recorded"));
  }
}
