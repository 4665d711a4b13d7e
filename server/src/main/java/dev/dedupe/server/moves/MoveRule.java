package dev.dedupe.server.moves;

import dev.dedupe.server.replication.ShardState;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The controller's rule for one running job: given the job, the shard's state and the live
 * nodes, the next ZooKeeper write, a leadership transfer, or a wait. Pure, like
 * {@code ShardStewardship}; the controller runs it on its event thread and writes what it
 * returns, fenced by its epoch, in one transaction with the job.
 *
 * <p>Every phase is decided from the shard's state, not from memory, so that a new controller
 * resumes a job from its phase, and a step that was written already is recognised and only
 * moves the job on (each phase is idempotent against the shard):
 *
 * <pre>
 * PENDING ─valid─▶ ADD ─replicas + to─▶ CATCH_UP ─to in sync─▶ LEADER_TRANSFER ─▶ REMOVE ─▶ DONE
 *    │                                              (only when from leads)  replicas − from,
 *    └─invalid─▶ FAILED                                                     in sync − from
 * cancel before REMOVE: replicas − to, in sync − to ─▶ CANCELLED (leadership first goes back
 *                                                     to from if the target already leads)
 * </pre>
 */
public final class MoveRule {

  private MoveRule() {}

  /**
   * @param registered the nodes registered now
   * @param liveStores for each registered node with the shard open, the store it publishes
   * @param minInsync {@code cluster.min-insync-replicas} as in force
   * @param otherRunning the other running jobs
   */
  public static MoveStep next(MoveJob job, ShardState shard, Set<String> registered,
      Map<String, String> liveStores, int minInsync, Collection<MoveJob> otherRunning,
      long nowMillis) {
    if (!job.running()) {
      return new MoveStep.Wait("finished", false);
    }
    if (job.cancelRequested() && job.phase().cancellable()) {
      return cancel(job, shard, liveStores, nowMillis);
    }
    if (job.phase() == MovePhase.PENDING) {
      Optional<MoveRefusedException> refused = MoveValidation.check(
          job, shard, registered, liveStores, minInsync, otherRunning);
      if (refused.isPresent()) {
        return write(job.failed(refused.get().getMessage(), nowMillis));
      }
      return write(job.inPhase(job.kind() == MoveKind.MOVE
          ? MovePhase.ADD : MovePhase.LEADER_TRANSFER, nowMillis));
    }
    return job.kind() == MoveKind.MOVE
        ? move(job, shard, registered, liveStores, minInsync, nowMillis)
        : transfer(job, shard, liveStores, nowMillis);
  }

  private static MoveStep move(MoveJob job, ShardState shard, Set<String> registered,
      Map<String, String> liveStores, int minInsync, long now) {
    String from = job.from();
    String to = job.to();
    switch (job.phase()) {
      case ADD -> {
        if (shard.replicas().contains(to)) {
          return write(job.inPhase(MovePhase.CATCH_UP, now)); // written already
        }
        if (!shard.replicas().contains(from)) {
          return write(job.failed("node " + from + " left shard " + shard.shard()
              + "'s replicas before the move began (replicas " + shard.replicas() + ")", now));
        }
        List<String> replicas = new ArrayList<>(shard.replicas());
        replicas.add(to);
        // Same leader, same epoch: the leader sees a new follower, copies the shard to it
        // (a snapshot, then its log) and adds it to the in-sync set when it has caught up.
        return new MoveStep.Write(Optional.of(shard.withReplicas(replicas)),
            job.inPhase(MovePhase.CATCH_UP, now));
      }
      case CATCH_UP -> {
        if (!shard.replicas().contains(to)) {
          return write(job.failed("node " + to + " was removed from shard " + shard.shard()
              + "'s replicas by someone else during the move", now));
        }
        if (!shard.isr().getOrDefault(to, "").isEmpty()) {
          return write(job.inPhase(shard.isLeader(from)
              ? MovePhase.LEADER_TRANSFER : MovePhase.REMOVE, now));
        }
        if (!registered.contains(to)) {
          return new MoveStep.Wait("target node " + to + " is not live; the move goes on when"
              + " it returns (cancel it to roll back)", true);
        }
        if (!shard.hasLeader()) {
          return new MoveStep.Wait("shard " + shard.shard() + " has no leader to copy from;"
              + " the move goes on when one is elected", true);
        }
        return new MoveStep.Wait("node " + to + " is catching up with leader "
            + shard.leader(), false);
      }
      case LEADER_TRANSFER -> {
        if (shard.hasLeader() && !shard.isLeader(from)) {
          return write(job.inPhase(MovePhase.REMOVE, now));
        }
        if (!MoveValidation.eligibleLeader(shard, to, liveStores)) {
          return new MoveStep.Wait("node " + to + " must be live and in sync to take over"
              + " shard " + shard.shard() + "'s leadership (in sync: "
              + shard.isrInReplicaOrder() + ")", true);
        }
        return new MoveStep.TransferLeader(to);
      }
      case REMOVE -> {
        if (!shard.replicas().contains(from)) {
          return write(job.done(now)); // written already
        }
        if (shard.isLeader(from)) {
          // Elected back since (the target failed): leadership must move off it first.
          return write(job.inPhase(MovePhase.LEADER_TRANSFER, now));
        }
        if (!shard.inSync(to)) {
          return new MoveStep.Wait("node " + to + " fell out of sync; " + from
              + "'s replica stays until it is back", true);
        }
        Map<String, String> isr = new LinkedHashMap<>(shard.isr());
        isr.remove(from);
        if (isr.size() < minInsync) {
          return new MoveStep.Wait("removing " + from + " would leave " + isr.size()
              + " in sync, fewer than cluster.min-insync-replicas (" + minInsync + ")", true);
        }
        List<String> replicas = new ArrayList<>(shard.replicas());
        replicas.remove(from);
        return new MoveStep.Write(Optional.of(new ShardState(shard.shard(), replicas,
            shard.leader(), shard.epoch(), isr)), job.done(now));
      }
      default -> {
        return write(job.failed("unexpected phase " + job.phase() + " for a move", now));
      }
    }
  }

  private static MoveStep transfer(MoveJob job, ShardState shard, Map<String, String> liveStores,
      long now) {
    if (shard.isLeader(job.to())) {
      return write(job.done(now));
    }
    if (!shard.replicas().contains(job.to())) {
      return write(job.failed("node " + job.to() + " no longer holds a replica of shard "
          + shard.shard(), now));
    }
    if (!MoveValidation.eligibleLeader(shard, job.to(), liveStores)) {
      return new MoveStep.Wait("node " + job.to() + " must be live and in sync to lead shard "
          + shard.shard() + " (in sync: " + shard.isrInReplicaOrder() + ")", true);
    }
    return new MoveStep.TransferLeader(job.to());
  }

  /** Rolls a job back before REMOVE: the shard keeps the replica set it had before it. */
  private static MoveStep cancel(MoveJob job, ShardState shard, Map<String, String> liveStores,
      long now) {
    if (job.kind() == MoveKind.TRANSFER_LEADER || job.phase() == MovePhase.PENDING
        || !shard.replicas().contains(job.to())) {
      return write(job.cancelled(now)); // nothing of the shard changed
    }
    if (shard.isLeader(job.to())) {
      // The target already took over: hand leadership back before it leaves.
      if (!MoveValidation.eligibleLeader(shard, job.from(), liveStores)) {
        return new MoveStep.Wait("cancelling: leadership goes back to " + job.from()
            + " once it is live and in sync again", true);
      }
      return new MoveStep.TransferLeader(job.from());
    }
    List<String> replicas = new ArrayList<>(shard.replicas());
    replicas.remove(job.to());
    Map<String, String> isr = new LinkedHashMap<>(shard.isr());
    isr.remove(job.to());
    return new MoveStep.Write(Optional.of(new ShardState(shard.shard(), replicas,
        shard.leader(), shard.epoch(), isr)), job.cancelled(now));
  }

  private static MoveStep write(MoveJob job) {
    return new MoveStep.Write(Optional.empty(), job);
  }
}
