package dev.dedupe.server.moves;

import java.util.List;
import java.util.Objects;

/**
 * One job of a plan as the planner chose it, with the shard's replicas it was planned against
 * (after the plan's earlier steps on the same shard). When the job is about to start, the
 * controller compares them with the shard as it is then: a shard that changed since (an admin
 * moved a replica meanwhile) fails the job with a reason, so that a forgotten plan never
 * undoes later changes.
 *
 * @param kind a replica move or a leadership transfer
 * @param shard the shard
 * @param from the replica that leaves (MOVE), or the leader when planned (TRANSFER_LEADER)
 * @param to the node that gets the replica or the leadership
 * @param expectedReplicas the shard's replicas when this step starts, as planned (a set: the
 *     order is not compared, as a leadership transfer reorders them)
 */
public record PlannedStep(MoveKind kind, int shard, String from, String to,
    List<String> expectedReplicas) {

  public PlannedStep {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(from, "from");
    Objects.requireNonNull(to, "to");
    expectedReplicas = List.copyOf(expectedReplicas);
  }

  /** Whether {@code job} is the job made for this step. */
  public boolean matches(MoveJob job) {
    return job.kind() == kind && job.shard() == shard && job.to().equals(to)
        && (kind == MoveKind.TRANSFER_LEADER || job.from().equals(from));
  }

  /** "shard 3: node-1 -> node-4 (move)", for tables and messages. */
  public String describe() {
    return "shard " + shard + ": " + (kind == MoveKind.MOVE ? from + " -> " + to + " (move)"
        : "leader " + from + " -> " + to + " (transfer)");
  }
}
