package dev.dedupe.server.shard;

/**
 * Whether this node may decide ids now. A cluster member answers from its fence (connected to
 * ZooKeeper, the assignment read under the current connection, and its local lease on the
 * session unexpired); a standalone node always may.
 *
 * <p>A writer asks twice per round: before it reads, and again after its write returned and
 * before it replies. The second check is what keeps a node that was paused mid-round (a GC
 * pause, SIGSTOP) from acknowledging ids after its session may have expired.
 */
@FunctionalInterface
public interface ServingCheck {

  /** A node that answers to no one: standalone. */
  ServingCheck ALWAYS = () -> true;

  /** Called on writer threads, on every round: must be cheap and must not block. */
  boolean mayServe();
}
