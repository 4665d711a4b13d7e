package dev.dedupe.server.moves;

/** Whether a plan still runs, and how it ended. */
public enum PlanState {
  /** The controller starts its jobs, a few at a time. */
  RUNNING,
  /** Every job finished and none failed (jobs skipped because the shard changed count as failed). */
  DONE,
  /** An admin cancelled it: its running jobs were rolled back, its pending ones never started. */
  CANCELLED,
  /** Every job finished and some failed, or it could not finish (the summary and note say why). */
  FAILED
}
