package dev.dedupe.server.moves;

import java.util.Objects;

/**
 * One move job, as its znode holds it ({@code moves/<id>}). Immutable; every change is a new
 * record written at the version read. Any node creates a job (a request) and may ask to cancel
 * it; only the controller advances it, fenced by its epoch.
 *
 * @param id {@code m-000012}: readable, from the job znode's sequence number
 * @param kind what it changes
 * @param shard the shard
 * @param from the source node: the replica that leaves (MOVE), or the leader when it was
 *     requested (TRANSFER_LEADER, for display only)
 * @param to the target node: the new replica (MOVE) or the new leader (TRANSFER_LEADER)
 * @param phase where it stands
 * @param state running, or how it ended
 * @param cancelRequested an admin asked to cancel it; the controller rolls it back
 * @param createdMillis when it was requested, wall-clock milliseconds since the epoch
 * @param updatedMillis when it last changed, wall-clock milliseconds since the epoch
 * @param bytesCopied bytes of the shard copied to the target so far, or -1 when not known
 * @param bytesTotal bytes to copy, or -1 when not known
 * @param lastError what stops it or stopped it, or "" (a wait that needs an admin, a refusal)
 * @param planId the plan it belongs to (a drain, a rebalance), or ""
 */
public record MoveJob(
    String id, MoveKind kind, int shard, String from, String to, MovePhase phase,
    MoveState state, boolean cancelRequested, long createdMillis, long updatedMillis,
    long bytesCopied, long bytesTotal, String lastError, String planId) {

  public MoveJob {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(from, "from");
    Objects.requireNonNull(to, "to");
    Objects.requireNonNull(phase, "phase");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(lastError, "lastError");
    Objects.requireNonNull(planId, "planId");
  }

  /** A new request, not yet seen by the controller; its id comes from the znode made for it. */
  public static MoveJob requested(MoveKind kind, int shard, String from, String to,
      String planId, long nowMillis) {
    return new MoveJob("", kind, shard, from, to, MovePhase.PENDING, MoveState.RUNNING, false,
        nowMillis, nowMillis, -1, -1, "", planId);
  }

  public boolean running() {
    return state == MoveState.RUNNING;
  }

  public MoveJob withId(String newId) {
    return new MoveJob(newId, kind, shard, from, to, phase, state, cancelRequested,
        createdMillis, updatedMillis, bytesCopied, bytesTotal, lastError, planId);
  }

  /** The next phase; a new phase clears the last error, which belonged to the old one. */
  public MoveJob inPhase(MovePhase next, long nowMillis) {
    return new MoveJob(id, kind, shard, from, to, next, state, cancelRequested, createdMillis,
        nowMillis, bytesCopied, bytesTotal, "", planId);
  }

  public MoveJob done(long nowMillis) {
    return new MoveJob(id, kind, shard, from, to, MovePhase.DONE, MoveState.DONE,
        cancelRequested, createdMillis, nowMillis, bytesCopied, bytesTotal, "", planId);
  }

  public MoveJob failed(String error, long nowMillis) {
    return new MoveJob(id, kind, shard, from, to, phase, MoveState.FAILED, cancelRequested,
        createdMillis, nowMillis, bytesCopied, bytesTotal, error, planId);
  }

  /** Rolled back; keeps the phase it was cancelled in. */
  public MoveJob cancelled(long nowMillis) {
    return new MoveJob(id, kind, shard, from, to, phase, MoveState.CANCELLED, true,
        createdMillis, nowMillis, bytesCopied, bytesTotal, "", planId);
  }

  public MoveJob withError(String error, long nowMillis) {
    return new MoveJob(id, kind, shard, from, to, phase, state, cancelRequested, createdMillis,
        nowMillis, bytesCopied, bytesTotal, error, planId);
  }

  public MoveJob withCancelRequested(long nowMillis) {
    return new MoveJob(id, kind, shard, from, to, phase, state, true, createdMillis, nowMillis,
        bytesCopied, bytesTotal, lastError, planId);
  }

  /** "shard 3: node-1 -> node-4" or "shard 3: leader -> node-4", for messages. */
  public String describe() {
    return id + " (" + (kind == MoveKind.MOVE ? "move shard " + shard + " from " + from
        + " to " + to : "transfer shard " + shard + "'s leadership to " + to) + ")";
  }
}
