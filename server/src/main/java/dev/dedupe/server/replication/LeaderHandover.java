package dev.dedupe.server.replication;

import dev.dedupe.server.storage.LogPosition;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The rules of a clean leadership handover (docs/design.md, "Leadership handover"), in one
 * place: which replica may receive a shard's leadership, which one a stopping or an unbalanced
 * leader hands to, the state the controller writes, and the old leader's pause. Pure: the
 * controller, the leader's replica and the simulation drive it.
 *
 * <p>A handover moves leadership from L to T without a failover: L stops deciding rounds, waits
 * until T has acknowledged its whole log, and says so with its znode
 * version; the controller then writes leader T at epoch + 1 <b>at that version</b>, fenced by its
 * controller epoch, keeping L in the in-sync set. L holds nothing T lacks (it decided nothing
 * after T acknowledged its end), so L follows T with no divergence and is never rebuilt.
 *
 * <p>L's pause is bounded by a lease. When it ends without the controller's write, L resumes only
 * through a conditional write of its own state at the version it answered with (the
 * <em>reassert</em>): that write and the controller's are both conditional on that version, so
 * exactly one of them lands. L never decides a round at epoch e after the controller made T
 * leader at the version L answered, whatever the timing.
 */
public final class LeaderHandover {

  private LeaderHandover() {}

  /** What the old leader answers once it may hand over. */
  public record Ready(long epoch, LogPosition end, int version) {}

  // ---------------------------------------------------------------- the controller's rules

  /**
   * Why {@code to} may not receive the leadership of {@code current} now, or empty if it may:
   * it must be another replica, in sync, live with the very store it is in sync with (as an
   * elected leader must be), and not stopping; and the shard must have a live leader to hand
   * over from (a leaderless shard is the election's business).
   */
  public static Optional<String> refusal(ShardState current, String to,
      Map<String, String> liveStores, Set<String> stopping) {
    int shard = current.shard();
    if (!current.replicas().contains(to)) {
      return Optional.of("node " + to + " holds no replica of shard " + shard + " (replicas "
          + current.replicas() + ")");
    }
    if (!current.hasLeader()) {
      return Optional.of("shard " + shard + " has no leader to hand over from");
    }
    if (current.isLeader(to)) {
      return Optional.of("node " + to + " already leads shard " + shard);
    }
    if (!liveStores.containsKey(current.leader())) {
      return Optional.of("leader " + current.leader() + " of shard " + shard + " is not live");
    }
    if (!current.inSync(to)) {
      return Optional.of("node " + to + " is not in sync for shard " + shard + " (in sync: "
          + current.isrInReplicaOrder() + ")");
    }
    if (!LeaderElection.eligible(current, to, liveStores)) {
      return Optional.of("node " + to + " is not live with the store it is in sync with for"
          + " shard " + shard);
    }
    if (stopping.contains(to)) {
      return Optional.of("node " + to + " is stopping");
    }
    return Optional.empty();
  }

  /**
   * The state the controller writes once the old leader is ready: {@code to} leads at the next
   * epoch, and the in-sync set stays as it is, the old leader included. With
   * {@code makePreferred}, {@code to} also becomes the first replica, so that a later automatic
   * balance keeps it there instead of undoing an admin's choice.
   */
  public static ShardState handedOver(ShardState current, String to, boolean makePreferred) {
    List<String> replicas = current.replicas();
    if (makePreferred) {
      List<String> reordered = new ArrayList<>(replicas.size());
      reordered.add(to);
      replicas.stream().filter(r -> !r.equals(to)).forEach(reordered::add);
      replicas = reordered;
    }
    return new ShardState(current.shard(), replicas, to, current.epoch() + 1, current.isr());
  }

  /**
   * Where a stopping leader hands {@code current} to: the first replica, in replica order, that
   * {@link #refusal} accepts. Empty when none can (the leader is the only in-sync replica, or
   * every other one is down or stopping too): the node then stops without handing over.
   */
  public static Optional<String> targetForStoppingLeader(ShardState current,
      Map<String, String> liveStores, Set<String> stopping) {
    return current.replicas().stream()
        .filter(r -> refusal(current, r, liveStores, stopping).isEmpty())
        .findFirst();
  }

  /**
   * The preferred replica (the first), when it should lead {@code current} again (Kafka's
   * preferred-replica election): it does not lead, it may receive the leadership, and the
   * leader is not stopping (its own handover goes first). Empty otherwise.
   */
  public static Optional<String> preferredLeader(ShardState current,
      Map<String, String> liveStores, Set<String> stopping) {
    String preferred = current.replicas().get(0);
    if (current.isLeader(preferred) || stopping.contains(current.leader())) {
      return Optional.empty();
    }
    return refusal(current, preferred, liveStores, stopping).isEmpty()
        ? Optional.of(preferred) : Optional.empty();
  }

  // -------------------------------------------------------------- the old leader's pause

  /** Where a paused leader stands. */
  public enum Phase {
    /** Deciding nothing; waiting for the rounds already decided to be appended. */
    DRAINING,
    /** Every decided round is appended; waiting for {@code to} to acknowledge the whole log. */
    CATCHING_UP,
    /** Answered ready; waiting for the controller's write (or the lease's end). */
    READY,
    /** The lease ended: resuming through the conditional reassert write. */
    RESUMING
  }

  /**
   * One leader's pause for one handover. Not thread-safe: the replica uses it under its monitor.
   *
   * @see LeaderHandover
   */
  public static final class Pause {

    private final long epoch;
    private final String to;
    private final long leaseNanos;
    private long leaseEndNanos;
    private Phase phase = Phase.DRAINING;

    /**
     * The lease is given twice: once to get ready (the controller waits as long for the
     * answer, then gives up), and once more from the moment of the answer, for the
     * controller's write. A pause that never gets ready thus costs at most one lease, and one
     * whose controller vanished after the answer at most one more.
     *
     * @param epoch the leader's epoch the handover is asked at
     * @param to the replica that receives the leadership
     * @param nowNanos the leader's monotonic clock now
     * @param leaseNanos the lease's length
     */
    public Pause(long epoch, String to, long nowNanos, long leaseNanos) {
      this.epoch = epoch;
      this.to = to;
      this.leaseNanos = leaseNanos;
      this.leaseEndNanos = nowNanos + leaseNanos;
    }

    public long epoch() {
      return epoch;
    }

    public String to() {
      return to;
    }

    public Phase phase() {
      return phase;
    }

    /**
     * Why a request to hand over to {@code target} at {@code askedEpoch} is refused while this
     * pause runs, or empty if it joins it (the same handover asked again: a controller that
     * retries, or its successor). A joined request renews the lease from {@code nowNanos}
     * unless the pause is already resuming.
     */
    public Optional<String> join(long askedEpoch, String target, long nowNanos) {
      if (askedEpoch != epoch || !target.equals(to)) {
        return Optional.of("already handing over to " + to + " at epoch " + epoch);
      }
      if (phase == Phase.RESUMING) {
        return Optional.of("the handover to " + to + " ran out of time; resuming");
      }
      leaseEndNanos = Math.max(leaseEndNanos, nowNanos + leaseNanos);
      return Optional.empty();
    }

    /** The writer has run every round decided before the pause: nothing more will be appended. */
    public void drained() {
      if (phase == Phase.DRAINING) {
        phase = Phase.CATCHING_UP;
      }
    }

    /**
     * Whether the leader may answer ready now: every decided round is appended, {@code to} is
     * in sync and has acknowledged the whole log, and no in-sync change is being written (it
     * would move the znode version the controller writes at). Everything need not be committed:
     * an in-sync member that lags would hold the handover until the leader drops it; the new
     * leader's first entry commits the rest with every member, and a round still waiting here
     * fails UNAVAILABLE when this leader steps down (its caller's retry with the same token
     * hears NEW, a replay). {@code commitIndex} is not consulted; it stays in the signature so
     * that the rule reads with every figure the leader has. A pause that answered stays ready (and answers again
     * to a repeated request); on becoming ready, its lease starts again for the controller's
     * write.
     */
    public boolean ready(long logEnd, long commitIndex, long toAcked, boolean toInSync,
        boolean inSyncWriteInFlight, long nowNanos) {
      if (phase == Phase.READY) {
        return true;
      }
      if (phase != Phase.CATCHING_UP) {
        return false;
      }
      if (toInSync && toAcked >= logEnd && !inSyncWriteInFlight) {
        phase = Phase.READY;
        leaseEndNanos = nowNanos + leaseNanos;
        return true;
      }
      return false;
    }

    /** Whether the leader may propose in-sync changes: not once it answered ready. */
    public boolean mayChangeInSync() {
      return phase != Phase.READY && phase != Phase.RESUMING;
    }

    /**
     * Whether the lease ran out and the leader should resume now (through the reassert write);
     * moves to {@link Phase#RESUMING} the first time it answers true.
     */
    public boolean leaseEnded(long nowNanos) {
      if (phase == Phase.RESUMING || nowNanos - leaseEndNanos < 0) {
        return false;
      }
      phase = Phase.RESUMING;
      return true;
    }
  }
}
