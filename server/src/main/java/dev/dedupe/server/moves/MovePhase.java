package dev.dedupe.server.moves;

/**
 * Where a job stands ({@link MoveRule} has the transitions). A MOVE goes PENDING, ADD,
 * CATCH_UP, LEADER_TRANSFER (only when the source leads), REMOVE, DONE; a TRANSFER_LEADER goes
 * PENDING, LEADER_TRANSFER, DONE. A finished job keeps the phase it finished in, except DONE.
 */
public enum MovePhase {
  /** Requested; the controller has not checked it against the shard yet. */
  PENDING,
  /** The target is about to be added to the shard's replicas. */
  ADD,
  /** The target is a replica; its leader copies the shard to it until it is in sync. */
  CATCH_UP,
  /** The target is in sync; leadership moves off the source (or to the target). */
  LEADER_TRANSFER,
  /** The source is about to leave the replicas and the in-sync set. */
  REMOVE,
  /** Finished as asked. */
  DONE;

  /** Whether a cancel may still roll the job back: the source has not been removed. */
  public boolean cancellable() {
    return this != REMOVE && this != DONE;
  }
}
