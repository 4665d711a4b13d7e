package dev.dedupe.server.moves;

/** Whether a job still runs, and how it ended. */
public enum MoveState {
  RUNNING,
  /** Finished as asked. */
  DONE,
  /** Refused by the controller, or impossible after the shard changed under it. */
  FAILED,
  /** Rolled back on an admin's cancel: the shard's replicas are as before the job. */
  CANCELLED
}
