package dev.dedupe.server.moves;

import dev.dedupe.server.copy.CopyProgress;
import dev.dedupe.server.copy.Throttle;
import java.util.List;
import java.util.Optional;

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

  /** The cluster's copy throttle, or empty when none is set. */
  Optional<Throttle> throttle();

  /**
   * Sets the cluster's copy throttle to {@code bytesPerSecond}, from now until the moves that
   * finish after it are done (or an admin clears it); returns it.
   *
   * @throws MoveRefusedException INVALID_ARGUMENT naming {@code bytes_per_second} if the rate
   *     is out of range
   */
  Throttle setThrottle(long bytesPerSecond);

  /** Clears the cluster's copy throttle; returns whether one was set. */
  boolean clearThrottle();

  /** Whether a job is copying its shard now, so that its copy's figures belong to it. */
  static boolean copying(MoveJob job) {
    return job.running() && job.kind() == MoveKind.MOVE && job.phase() == MovePhase.CATCH_UP;
  }

  /** The copies the shards' leaders publish now (followers out of sync being brought up). */
  List<CopyProgress> copies();
}
