package dev.dedupe.server.moves;

import dev.dedupe.server.replication.ShardState;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Whether a job may start on a shard as it is now: the one rule, asked by the admin API before
 * it creates a job (so that an admin hears at once) and by the controller before it starts one
 * (the cluster may have changed between the two, and two admins may race). Pure.
 */
public final class MoveValidation {

  /** Proto field names, for INVALID_ARGUMENT answers. */
  public static final String SHARD = "shard";
  public static final String FROM = "from_node";
  public static final String TO = "to_node";

  private MoveValidation() {}

  /**
   * Why {@code job} may not start, or empty if it may.
   *
   * @param registered the nodes registered now
   * @param liveStores for each registered node with the shard open, the store it publishes
   * @param minInsync {@code cluster.min-insync-replicas} as in force
   * @param otherRunning the other running jobs (any shard); an earlier one on this shard wins
   */
  public static Optional<MoveRefusedException> check(MoveJob job, ShardState shard,
      Set<String> registered, Map<String, String> liveStores, int minInsync,
      Collection<MoveJob> otherRunning) {
    int s = shard.shard();
    if (job.to().isBlank()) {
      return Optional.of(MoveRefusedException.invalid(TO, "to_node is required: the node that"
          + (job.kind() == MoveKind.MOVE ? " gets the replica" : " is to lead")));
    }
    // First: with a job running, the shard's state is in flux, and what else is wrong may
    // only be that job's doing.
    for (MoveJob other : otherRunning) {
      if (other.shard() == s && !other.id().equals(job.id())
          && (job.id().isEmpty() || MoveIds.sequence(other.id()) < MoveIds.sequence(job.id()))) {
        return Optional.of(MoveRefusedException.precondition(
            other.describe() + " is already running on shard " + s
                + "; wait for it to finish or cancel it ('bin/dedupe admin cancel "
                + other.id() + "')"));
      }
    }
    if (job.kind() == MoveKind.MOVE) {
      if (job.from().isBlank()) {
        return Optional.of(MoveRefusedException.invalid(FROM,
            "from_node is required: the node whose replica moves"));
      }
      if (job.from().equals(job.to())) {
        return Optional.of(MoveRefusedException.invalid(TO,
            "to_node is from_node (" + job.to() + "): nothing would move"));
      }
      if (!shard.replicas().contains(job.from())) {
        return Optional.of(MoveRefusedException.invalid(FROM, "node " + job.from()
            + " holds no replica of shard " + s + " (replicas " + shard.replicas() + ")"));
      }
      if (shard.replicas().contains(job.to())) {
        return Optional.of(MoveRefusedException.invalid(TO, "node " + job.to()
            + " already holds a replica of shard " + s + " (replicas " + shard.replicas() + ")"));
      }
      if (!registered.contains(job.to())) {
        return Optional.of(MoveRefusedException.precondition("target node " + job.to()
            + " is not live (registered: " + registered + "); start it first"));
      }
    } else {
      if (!shard.replicas().contains(job.to())) {
        return Optional.of(MoveRefusedException.invalid(TO, "node " + job.to()
            + " holds no replica of shard " + s + " (replicas " + shard.replicas()
            + "); move a replica there first"));
      }
      if (shard.isLeader(job.to())) {
        return Optional.of(MoveRefusedException.invalid(TO, "node " + job.to()
            + " already leads shard " + s));
      }
      if (!eligibleLeader(shard, job.to(), liveStores)) {
        return Optional.of(MoveRefusedException.precondition("node " + job.to()
            + " is not live and in sync for shard " + s + " (in sync: "
            + shard.isrInReplicaOrder() + "); only an in-sync replica may lead"));
      }
    }
    if (!shard.hasLeader()) {
      return Optional.of(MoveRefusedException.precondition("shard " + s + " has no leader (no"
          + " in-sync replica is live); a move needs a leader to copy from"));
    }
    if (job.kind() == MoveKind.MOVE) {
      // After the move: the in-sync set without the source, plus the target once it caught up.
      int after = (int) shard.isr().keySet().stream().filter(n -> !n.equals(job.from())).count()
          + 1;
      if (after < minInsync) {
        return Optional.of(MoveRefusedException.precondition("moving " + job.from()
            + "'s replica of shard " + s + " would leave " + after + " in-sync replicas, fewer"
            + " than cluster.min-insync-replicas (" + minInsync + "); in sync now: "
            + shard.isrInReplicaOrder() + ". Wait until the shard is back in sync"));
      }
    }
    return Optional.empty();
  }

  /**
   * Why an admin may not send a replica or a leadership to {@code to}, or empty if they may: a
   * drained or decommissioned node is being emptied, and a job that fills it again would undo
   * (or race) its drain. Asked where an admin asks for a job only: a plan never targets such a
   * node ({@link DrainPlanner}, {@link RebalancePlanner} and the heal place on eligible nodes),
   * and the controller does not ask again when it starts a job, so that a node drained while a
   * plan's job to it is pending does not fail that job half-way through its plan.
   *
   * @param drained the nodes marked drained now
   * @param decommissioned the nodes decommissioned now
   */
  public static Optional<MoveRefusedException> checkTarget(String to, Set<String> drained,
      Set<String> decommissioned) {
    if (decommissioned.contains(to)) {
      return Optional.of(MoveRefusedException.precondition("target node " + to
          + " is decommissioned: it has left the cluster for good and takes no replica or"
          + " leadership"));
    }
    if (drained.contains(to)) {
      return Optional.of(MoveRefusedException.precondition("target node " + to
          + " is drained: it takes no new replica or leadership until 'bin/dedupe admin"
          + " undrain " + to + "'"));
    }
    return Optional.empty();
  }

  /** In sync and live with the store it is in sync with (LeaderElection's rule for leading). */
  static boolean eligibleLeader(ShardState shard, String node, Map<String, String> liveStores) {
    String inSync = shard.isr().get(node);
    String live = liveStores.get(node);
    return inSync != null && live != null && (inSync.isEmpty() || inSync.equals(live));
  }
}
