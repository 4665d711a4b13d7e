package dev.dedupe.server.replication;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A leader's account of one shard at one epoch: how far each follower has acknowledged, which
 * replicas are in sync, and up to which entry the shard is committed (so its replies may go).
 * Pure and single-threaded: the runtime calls it under the shard's replication lock, the
 * simulation from its one thread.
 *
 * <p><b>The commit rule.</b> Entry s is committed when every in-sync member has it durable
 * (the leader itself included) and the in-sync set has at least {@code minInSync} members.
 * When the leader is in sync alone, no follower vouches that its epoch is still current, so
 * its own session lease must also be live ({@link #advance}'s argument); with a follower in
 * sync, that follower is the fence: the controller elects only from the in-sync set, and a
 * replica that learned of a newer epoch refuses this one's entries.
 *
 * <p><b>The in-sync set</b> used here changes only after ZooKeeper has the change
 * ({@link #inSyncChanged}): a follower is never dropped silently. The runtime proposes drops
 * ({@link #laggingMembers}) and joins ({@link #readyToJoin}), writes them fenced, and reports
 * what was written.
 *
 * <p><b>Epoch start.</b> A new leader's first entry, at {@code barrierSeq}, carries no ops; the
 * commit index counts only from it, so nothing the leader decides is acknowledged before every
 * in-sync member has accepted its epoch (and so refuses the old leader's).
 */
public final class LeaderProgress {

  private static final class Follower {
    String store = "";
    long acked = -1;
    long lastCaughtUpNanos;
    /**
     * Whether it has answered since it last left the in-sync set (or since this leadership
     * began). What it acknowledged before it left may be all a dead or emptied replica ever
     * said: only a later answer tells where it stands now.
     */
    boolean answeredSinceLeft;
    /** The leader's log end when this follower's previous acknowledgement came, or -1. */
    long endAtLastAck = -1;
    long lastAckNanos;
  }

  private final String self;
  private final long epoch;
  private final int minInSync;
  private final long barrierSeq;
  private final Map<String, Follower> followers = new HashMap<>();
  private Map<String, String> inSync;
  private long logEnd;
  private long commitIndex;

  /**
   * @param followers every replica but the leader
   * @param inSync the in-sync set read with the leadership, the leader included
   * @param barrierSeq the seq of this epoch's first entry, already written by the leader
   */
  public LeaderProgress(String self, long epoch, int minInSync, List<String> followers,
      Map<String, String> inSync, long barrierSeq, long nowNanos) {
    this.self = self;
    this.epoch = epoch;
    this.minInSync = minInSync;
    this.barrierSeq = barrierSeq;
    this.inSync = new LinkedHashMap<>(inSync);
    this.logEnd = barrierSeq;
    this.commitIndex = barrierSeq - 1;
    for (String f : followers) {
      Follower state = new Follower();
      state.lastCaughtUpNanos = nowNanos;
      this.followers.put(f, state);
    }
  }

  public long epoch() {
    return epoch;
  }

  /** The last entry the leader has durable. */
  public long logEnd() {
    return logEnd;
  }

  /** The last committed entry; replies that read up to it may go. */
  public long commitIndex() {
    return commitIndex;
  }

  public Map<String, String> inSync() {
    return java.util.Collections.unmodifiableMap(inSync);
  }

  /** The highest seq {@code follower} acknowledged in this epoch, or -1. */
  public long acked(String follower) {
    Follower f = followers.get(follower);
    return f == null ? -1 : f.acked;
  }

  /**
   * The shard's replicas changed within this epoch (a move added its target, or removed its
   * source or, on a cancel, its target): follow {@code now}, every replica but the leader. A
   * new follower has acknowledged nothing and joins the in-sync set only by
   * {@link #readyToJoin}; one that left is no longer counted, and its late answers are ignored.
   */
  public void followersChanged(List<String> now, long nowNanos) {
    followers.keySet().removeIf(f -> !now.contains(f));
    for (String f : now) {
      followers.computeIfAbsent(f, k -> {
        Follower state = new Follower();
        state.lastCaughtUpNanos = nowNanos;
        return state;
      });
    }
  }

  /** The leader wrote entry {@code seq} durably. */
  public void appended(long seq, long nowNanos) {
    if (seq != logEnd + 1) {
      throw new IllegalStateException("entry " + seq + " appended after " + logEnd);
    }
    for (Follower f : followers.values()) {
      if (f.acked >= logEnd) {
        f.lastCaughtUpNanos = nowNanos; // caught up until this moment
      }
    }
    logEnd = seq;
  }

  /**
   * {@code follower} has every entry up to {@code seq} durable, in this epoch, in the store
   * {@code store}.
   */
  public void acknowledged(String follower, String store, long seq, long nowNanos) {
    Follower f = followers.get(follower);
    if (f == null) {
      return; // not a replica (any more): ignore
    }
    if (!store.equals(f.store)) {
      // What another store acknowledged says nothing of this one (a lost disk, a rebuild).
      f.store = store;
      f.acked = -1;
      f.endAtLastAck = -1;
    }
    f.acked = Math.max(f.acked, Math.min(seq, logEnd));
    f.answeredSinceLeft = true;
    if (f.acked >= logEnd) {
      f.lastCaughtUpNanos = nowNanos;
    } else if (f.endAtLastAck >= 0 && f.acked >= f.endAtLastAck) {
      // It has everything the leader had when its previous answer came: it was caught up
      // then, and is one round trip behind under steady writes, not lagging (Kafka's rule).
      f.lastCaughtUpNanos = Math.max(f.lastCaughtUpNanos, f.lastAckNanos);
    }
    f.endAtLastAck = logEnd;
    f.lastAckNanos = nowNanos;
  }

  /**
   * Moves the commit index as far as the rule allows.
   *
   * @param sessionLeaseLive whether the leader's ZooKeeper session lease is live; counts only
   *     when the leader is in sync alone
   * @return the commit index after
   */
  public long advance(boolean sessionLeaseLive) {
    if (inSync.size() < minInSync || !inSync.containsKey(self)) {
      return commitIndex;
    }
    if (inSync.size() == 1 && !sessionLeaseLive) {
      return commitIndex;
    }
    long all = logEnd;
    for (Map.Entry<String, String> member : inSync.entrySet()) {
      if (member.getKey().equals(self)) {
        continue;
      }
      Follower f = followers.get(member.getKey());
      if (f == null || !f.store.equals(member.getValue())) {
        return commitIndex; // no word yet from the store that is in sync
      }
      all = Math.min(all, f.acked);
    }
    if (all >= barrierSeq && all > commitIndex) {
      commitIndex = all;
    }
    return commitIndex;
  }

  /**
   * In-sync followers to drop: behind the leader's end for longer than {@code lagMaxNanos},
   * or answering from a store other than the one they are in sync with (a lost disk). A
   * follower was last caught up when it had the leader's whole log: at the leader's append or
   * its own answer, or, when its answer holds everything the leader had at its previous
   * answer, at that previous answer (so writes that never pause do not drop a follower that
   * keeps up).
   */
  public List<String> laggingMembers(long nowNanos, long lagMaxNanos) {
    List<String> out = new ArrayList<>();
    for (String member : inSync.keySet()) {
      Follower f = followers.get(member);
      if (f == null) {
        continue;
      }
      boolean otherStore = !f.store.isEmpty() && !f.store.equals(inSync.get(member));
      boolean behind = f.acked < logEnd && nowNanos - f.lastCaughtUpNanos > lagMaxNanos;
      if (otherStore || behind) {
        out.add(member);
      }
    }
    return out;
  }

  /**
   * A follower outside the in-sync set that may join it now, with its store: it has this
   * epoch's first entry and everything committed, as that store said after the follower last
   * left the set (an acknowledgement from before it left, which the commit index may still
   * equal, proves nothing of a replica that died or came back empty since).
   */
  public Optional<Map.Entry<String, String>> readyToJoin() {
    for (Map.Entry<String, Follower> e : followers.entrySet()) {
      Follower f = e.getValue();
      if (!inSync.containsKey(e.getKey()) && !f.store.isEmpty() && f.answeredSinceLeft
          && f.acked >= barrierSeq && f.acked >= commitIndex) {
        return Optional.of(Map.entry(e.getKey(), f.store));
      }
    }
    return Optional.empty();
  }

  /** ZooKeeper now holds {@code isr} for this shard at this epoch. */
  public void inSyncChanged(Map<String, String> isr) {
    for (String member : inSync.keySet()) {
      Follower f = followers.get(member);
      if (f != null && !isr.containsKey(member)) {
        f.answeredSinceLeft = false;
      }
    }
    inSync = new LinkedHashMap<>(isr);
  }
}
