package dev.dedupe.server.moves;

import java.util.List;

/**
 * What the admin API asks of the cluster about jobs. Requests are checked at once
 * ({@link MoveValidation}) and written as jobs that the controller runs.
 */
public interface MoveAdmin {

  /**
   * Creates a job that moves {@code shard}'s replica on {@code from} to {@code to}.
   *
   * @param planId the plan it belongs to, or ""
   * @throws MoveRefusedException if it cannot be done, saying why
   */
  MoveJob requestMove(int shard, String from, String to, String planId);

  /**
   * Creates a job that moves {@code shard}'s leadership to the in-sync replica on {@code to}.
   *
   * @throws MoveRefusedException if it cannot be done, saying why
   */
  MoveJob requestLeaderTransfer(int shard, String to);

  /** Every job kept, running and finished, oldest first. */
  List<MoveJob> list();

  /**
   * Asks the controller to roll job {@code id} back; returns the job as it is now.
   *
   * @throws MoveRefusedException if there is no such job, it has finished, or it is past the
   *     point of no return (the source is being removed)
   */
  MoveJob cancel(String id);
}
