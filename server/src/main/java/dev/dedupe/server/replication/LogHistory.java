package dev.dedupe.server.replication;

import dev.dedupe.server.storage.EpochStart;
import dev.dedupe.server.storage.LogPosition;
import java.util.List;

/**
 * A replica's log as far as the protocol needs to know it: the epochs it holds entries of
 * (each with its first sequence number) and its last position. From these alone it answers
 * whether another replica's position names an entry of this log, which is how a leader tells
 * a follower that is merely behind from one that holds entries the leader lacks (Kafka's
 * leader-epoch check, KIP-101 and KIP-279).
 *
 * <p>Why a position is enough: one leader owns each epoch and numbers its entries in order,
 * and a follower applies an entry only right after the entry before it (the append names the
 * previous position and must match the follower's). So two replicas that hold an entry with
 * the same (epoch, seq) hold the same entries up to it (Raft's log matching property).
 *
 * @param epochs the epochs of the log's entries in order, each with its first seq
 * @param end the position of the last entry, {@link LogPosition#EMPTY} for an empty log
 */
public record LogHistory(List<EpochStart> epochs, LogPosition end) {

  public LogHistory {
    epochs = List.copyOf(epochs);
  }

  public static final LogHistory EMPTY = new LogHistory(List.of(), LogPosition.EMPTY);

  /** Whether this log holds the entry at {@code p}; the empty position is in every log. */
  public boolean holds(LogPosition p) {
    if (p.equals(LogPosition.EMPTY)) {
      return true;
    }
    for (int i = 0; i < epochs.size(); i++) {
      EpochStart e = epochs.get(i);
      if (e.epoch() == p.epoch()) {
        long last = i + 1 < epochs.size() ? epochs.get(i + 1).startSeq() - 1 : end.seq();
        return p.seq() >= e.startSeq() && p.seq() <= last;
      }
    }
    return false;
  }

  /**
   * The position of the entry at {@code seq} of this log: its epoch and seq; EMPTY for seq 0.
   *
   * @throws IllegalArgumentException if the log holds no entry at {@code seq}
   */
  public LogPosition positionOf(long seq) {
    if (seq == 0) {
      return LogPosition.EMPTY;
    }
    if (seq > end.seq() || seq < 1) {
      throw new IllegalArgumentException("the log holds no entry " + seq + "; it ends at " + end);
    }
    for (int i = epochs.size() - 1; i >= 0; i--) {
      if (epochs.get(i).startSeq() <= seq) {
        return new LogPosition(epochs.get(i).epoch(), seq);
      }
    }
    throw new IllegalArgumentException("entry " + seq + " precedes the log's first epoch " + epochs);
  }

  /** The log after one more entry at {@code epoch}. */
  public LogHistory append(long epoch) {
    long seq = end.seq() + 1;
    if (epoch < end.epoch()) {
      throw new IllegalArgumentException("entry at epoch " + epoch + " after " + end);
    }
    List<EpochStart> next = epochs;
    if (epochs.isEmpty() || epochs.get(epochs.size() - 1).epoch() != epoch) {
      next = new java.util.ArrayList<>(epochs);
      next.add(new EpochStart(epoch, seq));
    }
    return new LogHistory(next, new LogPosition(epoch, seq));
  }

  /**
   * How a follower at {@code follower} catches up with this log, when this log keeps its
   * entries from {@code tailFirstSeq} on (older ones only in the store, as a snapshot).
   */
  public CatchUp planFor(LogPosition follower, long tailFirstSeq) {
    if (!holds(follower)) {
      return new CatchUp.Rebuild("it holds entry " + follower
          + ", which this log does not have (written by a leader that never got it acknowledged)");
    }
    if (follower.seq() + 1 >= tailFirstSeq || follower.seq() == end.seq()) {
      return new CatchUp.Resend(follower.seq() + 1);
    }
    return new CatchUp.Rebuild("it is at " + follower + " and the leader keeps entries only from "
        + tailFirstSeq);
  }

  /** What a leader does for a follower whose position does not follow its last append. */
  public sealed interface CatchUp {
    /** Send entries from {@code fromSeq} on (none if past the end). */
    record Resend(long fromSeq) implements CatchUp {}

    /** Replace the follower's copy of the shard with a snapshot of the leader's. */
    record Rebuild(String why) implements CatchUp {}
  }
}
