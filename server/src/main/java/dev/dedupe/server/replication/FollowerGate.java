package dev.dedupe.server.replication;

import dev.dedupe.server.storage.LogPosition;

/**
 * A follower's rule for one shard: which appends it applies. Pure; one per shard replica that
 * follows, used by one thread at a time.
 *
 * <p>An append names its leader's epoch and the position of the entry before its first; the
 * follower applies it only if the epoch is the newest it knows and the previous position is
 * its own last one. An older epoch is refused: that is how a deposed leader, even one that
 * does not know it yet, can acknowledge nothing. A newer epoch is learned from the append
 * itself (the controller made it, so it is real), which fences older leaders at once. A
 * follower that has not yet read the shard's state applies nothing.
 */
public final class FollowerGate {

  /** What the follower does with an append. */
  public enum Outcome {
    /** Apply the entries, then acknowledge the new position. */
    APPLY,
    /** The append's epoch is older than one this replica knows; the sender is deposed. */
    STALE_EPOCH,
    /** The previous position is not this replica's last; the leader must decide how to go on. */
    MISMATCH,
    /** This replica does not follow now (it leads, or has not read the shard's state). */
    NOT_FOLLOWING
  }

  private long knownEpoch = -1;
  private boolean leading;
  private LogPosition position;

  public FollowerGate(LogPosition position) {
    this.position = position;
  }

  /** The shard's state as read from ZooKeeper: its epoch, and whether this node leads it. */
  public void learned(long epoch, boolean leadsNow) {
    if (epoch >= knownEpoch) {
      knownEpoch = epoch;
      leading = leadsNow;
    }
  }

  public long knownEpoch() {
    return knownEpoch;
  }

  public LogPosition position() {
    return position;
  }

  /** Decides an append from the leader of {@code epoch} whose entries follow {@code previous}. */
  public Outcome offer(long epoch, LogPosition previous) {
    if (knownEpoch < 0) {
      return Outcome.NOT_FOLLOWING;
    }
    if (epoch < knownEpoch) {
      return Outcome.STALE_EPOCH;
    }
    if (leading) {
      // Leading at knownEpoch: an append of the same epoch is impossible, and a newer one
      // means this node was deposed; it must learn that from ZooKeeper before it follows.
      return Outcome.NOT_FOLLOWING;
    }
    knownEpoch = epoch;
    return previous.equals(position) ? Outcome.APPLY : Outcome.MISMATCH;
  }

  /** The entries of an applied append are durable; this is the new last position. */
  public void applied(LogPosition last) {
    position = last;
  }

  /** A snapshot replaced this replica's copy of the shard. */
  public void rebuilt(LogPosition at) {
    position = at;
  }
}
