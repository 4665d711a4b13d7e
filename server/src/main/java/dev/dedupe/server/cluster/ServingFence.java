package dev.dedupe.server.cluster;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

/**
 * The one rule that decides whether a cluster member may serve: its ZooKeeper connection is up,
 * it has read the cluster state under that same connection, and its local lease on the session
 * has not run out.
 *
 * <p><b>Connection epochs.</b> Every connection change (SUSPENDED, LOST, CONNECTED, RECONNECTED)
 * starts a new epoch and clears "caught up". A re-read takes the epoch before it reads, and
 * {@link #caughtUp} marks the node caught up only if the epoch is still that one and
 * connected, in one compare-and-set on a single state. So a SUSPENDED that arrives while a
 * re-read is under way can never be overwritten by it.
 *
 * <p><b>The local lease.</b> Curator reports SUSPENDED only when the ZooKeeper client thread
 * notices the silence; a node paused by GC or SIGSTOP notices nothing until it runs again, and
 * was seen to answer NEW for 38 s after its session expired. So the node also stops by its own
 * monotonic clock: each heartbeat answered by ZooKeeper proves the session was alive when the
 * heartbeat was <i>sent</i>, and ZooKeeper cannot expire a session sooner than one session
 * timeout after it last heard from it. The lease therefore runs to
 * {@code sent + LEASE_FRACTION × session timeout}, which ends before the earliest moment the
 * session could expire, with a third of the timeout to spare for clock-rate differences and a
 * round in flight. Routing asks the fence before a round reaches a writer, and a leader in sync
 * alone asks it before it counts a commit (the replication runtime's session lease).
 *
 * <p>Thread-safe: connection events, re-reads, heartbeat answers and writers call it from
 * their own threads; nothing here blocks.
 */
public final class ServingFence {

  /** The share of the session timeout a heartbeat's lease lasts from the moment it was sent. */
  static final double LEASE_FRACTION = 2.0 / 3.0;

  /** Why the node does not serve now, or {@code SERVING}. */
  enum Standing {
    SERVING, DISCONNECTED, CATCHING_UP, LEASE_EXPIRED
  }

  private record State(long epoch, boolean connected, boolean caughtUp) {}

  private final AtomicReference<State> state = new AtomicReference<>(new State(0, false, false));
  private final LongSupplier nanoClock;
  /** When the lease ends, on {@link #nanoClock}; it has ended at construction. */
  private final AtomicLong leaseEndsNanos;

  /**
   * A fence that does not let the node serve until it has connected, caught up and heard a
   * heartbeat answered. Made by the node, shared by its {@link ClusterMember} (which moves it)
   * and its replication runtime and routing (which ask it).
   *
   * @param nanoClock a monotonic clock in nanoseconds ({@code System::nanoTime})
   */
  public ServingFence(LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
    this.leaseEndsNanos = new AtomicLong(nanoClock.getAsLong());
  }

  /** The connection is up (CONNECTED or RECONNECTED): a new epoch, not yet caught up. */
  long connected() {
    return state.updateAndGet(s -> new State(s.epoch() + 1, true, false)).epoch();
  }

  /**
   * The connection is SUSPENDED or LOST: a new epoch, and no serving until reconnected and
   * caught up.
   *
   * @return whether the node was serving just before
   */
  boolean disconnected() {
    State before = state.getAndUpdate(s -> new State(s.epoch() + 1, false, false));
    return before.connected() && before.caughtUp();
  }

  /** The current connection epoch; take it before a re-read and pass it to {@link #caughtUp}. */
  long epoch() {
    return state.get().epoch();
  }

  /**
   * A re-read that began at {@code epoch} finished: the node is caught up if no connection
   * change happened since and the connection is up.
   *
   * @return whether the node is now caught up under {@code epoch}
   */
  boolean caughtUp(long epoch) {
    while (true) {
      State s = state.get();
      if (s.epoch() != epoch || !s.connected()) {
        return false;
      }
      if (s.caughtUp() || state.compareAndSet(s, new State(epoch, true, true))) {
        return true;
      }
    }
  }

  /**
   * ZooKeeper answered a heartbeat sent at {@code sentNanos}: the lease runs to that moment
   * plus {@link #LEASE_FRACTION} of the session timeout, unless it already runs longer.
   */
  void heartbeatAnswered(long sentNanos, long sessionTimeoutMillis) {
    long ends = sentNanos + (long) (sessionTimeoutMillis * 1_000_000L * LEASE_FRACTION);
    // Compared as a difference: nanoTime may wrap.
    leaseEndsNanos.accumulateAndGet(ends, (a, b) -> b - a > 0 ? b : a);
  }

  /** Why the node may or may not serve, now. */
  Standing standing() {
    State s = state.get();
    if (!s.connected()) {
      return Standing.DISCONNECTED;
    }
    if (!s.caughtUp()) {
      return Standing.CATCHING_UP;
    }
    if (nanoClock.getAsLong() - leaseEndsNanos.get() >= 0) {
      return Standing.LEASE_EXPIRED;
    }
    return Standing.SERVING;
  }

  /** Whether the node may serve now: connected, caught up and within its lease. */
  public boolean mayServe() {
    return standing() == Standing.SERVING;
  }
}
