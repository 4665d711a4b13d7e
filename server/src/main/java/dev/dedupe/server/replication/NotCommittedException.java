package dev.dedupe.server.replication;

import dev.dedupe.server.storage.StorageException;

/**
 * A round's entry was not committed in time: the in-sync replicas did not all have it durable
 * within the replication timeout, or the in-sync set is smaller than the minimum. Answered
 * UNAVAILABLE. The entry stays in the leader's log and may commit later, so the ids may be
 * recorded: a retry with the same attempt token hears NEW (replay), never a false DUPLICATE.
 */
public final class NotCommittedException extends StorageException {

  public NotCommittedException(int shard, String why) {
    super("shard " + shard + ": not replicated in time (" + why + "); the ids may be recorded,"
        + " so retry with the same attempt_token");
  }
}
