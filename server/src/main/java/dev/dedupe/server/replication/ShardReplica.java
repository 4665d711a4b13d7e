package dev.dedupe.server.replication;

import dev.dedupe.server.shard.ShardFencedException;
import dev.dedupe.server.shard.ShardLog;
import dev.dedupe.server.shard.ShardWriter;
import dev.dedupe.server.storage.EpochStart;
import dev.dedupe.server.storage.LogEntry;
import dev.dedupe.server.storage.LogEntryCodec;
import dev.dedupe.server.storage.LogPosition;
import dev.dedupe.server.storage.ShardStore;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One shard replica on this node, as leader or follower: the runtime around the protocol's
 * pure rules ({@link LeaderProgress}, {@link FollowerGate}, {@link LogHistory}) for one shard.
 *
 * <p>As leader it is the writer's {@link ShardLog}: it keeps the recent entries for the
 * followers, counts their acknowledgements, holds each round's replies until the round is
 * committed, fails them when the commit does not come in time, and proposes in-sync changes.
 * As follower it decides and applies its leader's appends on the shard's writer thread.
 *
 * <p>Threads: the shard's writer thread (rounds, barrier, appends it applies), the runtime's
 * peer senders (acknowledgements), its timer (timeouts, lag) and the cluster member's refresh
 * (roles). All state is guarded by this object's monitor; callbacks that complete replies run
 * after the monitor is released, so a reply never runs under it.
 */
public final class ShardReplica implements ShardLog {

  private static final long RETRY_NANOS = 200_000_000L;
  /**
   * How often a leader with nothing to send asks a follower outside the in-sync set where it
   * stands, so that a replica back after a crash rejoins (or is rebuilt) on an idle shard too.
   */
  private static final long PROBE_NANOS = 1_000_000_000L;

  /** What this replica does now. */
  public enum Role { NONE, LEADER, FOLLOWER }

  /** What the runtime does for a replica: send, rebuild, re-read. */
  interface Listener {
    /** The leader has entries (or a probe) for these followers. */
    void entriesFor(ShardReplica replica, List<String> followers);

    /** {@code follower} needs a snapshot of this leader's copy. */
    void snapshotNeeded(ShardReplica replica, String follower);

    /** The replica saw a newer epoch than it knows of: the cluster state must be read again. */
    void refreshNeeded(int shard);
  }

  private record Pending(long seq, Runnable replies, Consumer<RuntimeException> failed,
      long deadlineNanos) {}

  /** A leader's sending state for one follower. */
  private static final class Sending {
    long nextSeq;
    boolean inFlight;
    boolean snapshotting;
    /**
     * A snapshot to it failed: its copy may be half replaced (its store detached while the
     * install waits to resume), so the next send is a snapshot again, not a probe (which a
     * follower without a store answers NOT_FOLLOWING for ever).
     */
    boolean resnapshot;
    long retryAtNanos;
    /** Whether the follower answered this leadership yet; until it has, a probe goes. */
    boolean answered;
    long probedAtNanos;
  }

  private final int shard;
  private final String self;
  private final ReplicationSettings settings;
  private final LongSupplier nanos;
  private final BooleanSupplier sessionLease;
  private final Listener listener;
  private final java.util.function.Supplier<ShardWriter> writer;
  /** A standalone node's replica: leads alone from the moment its store opens. */
  private final boolean alone;
  private final Logger log;

  private Role role = Role.NONE;
  /** The epoch rounds may be decided at; -1 unless leading with its first entry written. */
  private volatile long servingEpoch = -1;
  /** The newest epoch this replica knows of, from ZooKeeper or from an append. */
  private long knownEpoch;
  private VersionedShardState state;
  /** This replica's log as its store holds it. */
  private LogHistory history = LogHistory.EMPTY;
  private LeaderProgress progress;
  private LogTail tail;
  /**
   * As a follower, the entries it applied last, kept so that if it is elected it can resend
   * them to the other followers instead of rebuilding every one that is a little behind from
   * a snapshot (which gives it a new store and takes it out of the in-sync set).
   */
  private LogTail followed;
  private final Map<String, Sending> sending = new HashMap<>();
  private final TreeMap<Long, List<Pending>> pending = new TreeMap<>();
  private boolean inSyncWriteInFlight;
  private FollowerGate gate;
  /** While handing the leadership over: the pause ({@link LeaderHandover}); else null. */
  private LeaderHandover.Pause handover;
  /** Whether rounds are refused for a handover; read by the writer without the monitor. */
  private volatile boolean pausedForHandover;
  /** Callers of {@link #prepareHandover} waiting for the pause to be ready. */
  private final List<CompletableFuture<LeaderHandover.Ready>> handoverWaiters =
      new ArrayList<>();
  /** The znode version the last reassert write was tried at, so a failed one is not repeated. */
  private int reassertTriedVersion = -1;
  /** Whether the in-sync write in flight is a paused leader's reassert. */
  private boolean resumeInFlight;

  ShardReplica(int shard, String self, ReplicationSettings settings, LongSupplier nanos,
      BooleanSupplier sessionLease, Listener listener,
      java.util.function.Supplier<ShardWriter> writer, boolean alone) {
    this.alone = alone;
    this.shard = shard;
    this.self = self;
    this.settings = settings;
    this.nanos = nanos;
    this.sessionLease = sessionLease;
    this.listener = listener;
    this.writer = writer;
    this.log = LoggerFactory.getLogger(ShardReplica.class.getName() + ".shard-" + shard);
  }

  public int shard() {
    return shard;
  }

  public synchronized Role role() {
    return role;
  }

  /** This replica's last position. */
  public synchronized LogPosition position() {
    return history.end();
  }

  /** The leader's commit index, or -1 when not leading. */
  public synchronized long commitIndex() {
    return role == Role.LEADER && progress != null ? progress.commitIndex() : -1;
  }

  /** The leader's view of the in-sync set, or the last read one. */
  public synchronized Optional<VersionedShardState> state() {
    return Optional.ofNullable(state);
  }

  /** For a leader: how far each follower has acknowledged, in entries behind its end. */
  public synchronized Map<String, Long> followerLag() {
    Map<String, Long> lag = new TreeMap<>();
    if (role == Role.LEADER && progress != null) {
      for (String f : sending.keySet()) {
        long acked = progress.acked(f);
        lag.put(f, acked < 0 ? progress.logEnd() : progress.logEnd() - acked);
      }
    }
    return lag;
  }

  // ---------------------------------------------------------------- ShardLog (writer thread)

  /**
   * A standalone shard's log: the shard leads alone, with no followers, from the moment its
   * writer opens the store; its entries commit as soon as they are written.
   */
  public static ShardReplica alone(int shard) {
    return new ShardReplica(shard, STANDALONE_NODE, ReplicationSettings.STANDALONE,
        System::nanoTime, () -> true, NO_LISTENER, () -> null, true);
  }

  static final String STANDALONE_NODE = "standalone";

  private static final Listener NO_LISTENER = new Listener() {
    @Override
    public void entriesFor(ShardReplica replica, List<String> followers) { }

    @Override
    public void snapshotNeeded(ShardReplica replica, String follower) { }

    @Override
    public void refreshNeeded(int shard) { }
  };

  /**
   * The writer opened (or replaced) the store: this replica's log is the store's. A standalone
   * replica starts leading here, on the writer thread, before the writer takes any round.
   */
  @Override
  public void opened(ShardStore store) {
    synchronized (this) {
      history = new LogHistory(store.epochHistory(), store.position());
      gate = null;
      followed = null; // a replaced store's log is not the one those entries followed
      if (!alone) {
        return;
      }
      role = Role.LEADER;
      knownEpoch = Math.max(1, store.position().epoch());
    }
    ShardState s = new ShardState(shard, List.of(self), self, knownEpoch, Map.of(self, ""));
    becomeLeader(store, new VersionedShardState(s, -1));
  }

  @Override
  public long leaderEpoch() {
    long epoch = servingEpoch;
    if (pausedForHandover) {
      // Handing over: decide nothing, so that nothing is appended after the new leader has
      // acknowledged this log's end. The caller retries at the new leader.
      return -1;
    }
    if (epoch >= 0 && !sessionLease.getAsBoolean() && inSyncAlone()) {
      // In sync alone, nothing but the session lease stands between this leader and a
      // successor: without it, fail the round now rather than at the commit timeout.
      return -1;
    }
    return epoch;
  }

  @Override
  public boolean readsNeedCommit() {
    return !sessionLease.getAsBoolean();
  }

  private synchronized boolean inSyncAlone() {
    return progress != null && progress.inSync().size() <= 1;
  }

  @Override
  public void appended(LogEntry entry) {
    List<Runnable> run;
    List<String> followers;
    synchronized (this) {
      history = history.append(entry.epoch());
      if (role != Role.LEADER || progress == null) {
        return; // a round that raced a step-down; its replies fail in whenCommitted
      }
      progress.appended(entry.seq(), nanos.getAsLong());
      if (tail != null) {
        tail.add(entry.seq(), LogEntryCodec.encode(entry));
      }
      run = commitLocked();
      followers = List.copyOf(sending.keySet());
    }
    run.forEach(Runnable::run);
    if (!followers.isEmpty()) {
      listener.entriesFor(this, followers);
    }
  }

  @Override
  public void whenCommitted(long seq, Runnable replies, Consumer<RuntimeException> failed) {
    boolean now;
    synchronized (this) {
      if (role != Role.LEADER || progress == null) {
        now = false;
      } else if (progress.commitIndex() >= seq) {
        now = true;
      } else {
        pending.computeIfAbsent(seq, s -> new ArrayList<>(2)).add(new Pending(seq, replies, failed,
            nanos.getAsLong() + settings.commitTimeout().toNanos()));
        return;
      }
    }
    if (now) {
      replies.run();
    } else {
      failed.accept(new ShardFencedException(shard, true));
    }
  }

  /** Moves the commit index; returns the replies it releases, to run outside the monitor. */
  private List<Runnable> commitLocked() {
    long committed = progress.advance(sessionLease.getAsBoolean());
    if (pending.isEmpty() || pending.firstKey() > committed) {
      return List.of();
    }
    List<Runnable> out = new ArrayList<>();
    var head = pending.headMap(committed, true);
    for (List<Pending> ps : head.values()) {
      for (Pending p : ps) {
        out.add(p.replies());
      }
    }
    head.clear();
    return out;
  }

  // ----------------------------------------------------------------------- roles (any thread)

  /**
   * The shard's state as ZooKeeper holds it now. Starts or stops leading, or follows; a state
   * older than one already seen is ignored.
   */
  void update(VersionedShardState read) {
    ShardState s = read.state();
    List<Runnable> released = List.of();
    List<String> added = List.of();
    boolean startLeading = false;
    synchronized (this) {
      if (state != null && s.epoch() < state.state().epoch()) {
        return;
      }
      if (s.epoch() < knownEpoch) {
        return; // an append from a newer leader came first; ZooKeeper will catch up
      }
      knownEpoch = s.epoch();
      boolean lead = s.isLeader(self);
      if (lead && role == Role.LEADER && progress != null && progress.epoch() == s.epoch()) {
        if (state == null || read.version() > state.version()) {
          // Same epoch, a newer in-sync set: the controller dropped a departed member, and
          // what waited only for it commits now.
          state = read;
          countInSyncChangeLocked(s.isr());
          progress.inSyncChanged(s.isr());
          // Or a move changed the replicas at this epoch: a new one is sent to (and rebuilt
          // from a snapshot if it needs one), a removed one no longer.
          added = followersChangedLocked(s.followers());
          released = withHandoverReadyLocked(commitLocked());
        }
      } else {
        if (!lead && role == Role.LEADER) {
          stepDownLocked("the controller made " + (s.hasLeader() ? s.leader() : "no node")
              + " leader at epoch " + s.epoch());
        }
        state = read;
        if (!lead) {
          role = s.replicas().contains(self) ? Role.FOLLOWER : Role.NONE;
          if (gate != null) {
            gate.learned(s.epoch(), false);
          }
        } else if (role != Role.LEADER) {
          role = Role.LEADER;
          servingEpoch = -1;
          startLeading = true;
        } // else: becoming leader at this epoch already
      }
    }
    released.forEach(Runnable::run);
    if (!added.isEmpty()) {
      listener.entriesFor(this, added);
    }
    if (!startLeading) {
      return;
    }
    ShardWriter w = writer.get();
    if (w == null) {
      return; // not open yet; the runtime updates again once it is
    }
    w.submit(store -> {
      becomeLeader(store, read);
      return null;
    });
  }

  /** Writer thread: writes this epoch's first entry, then starts counting commits. */
  private void becomeLeader(ShardStore store, VersionedShardState read) {
    ShardState s = read.state();
    synchronized (this) {
      if (role != Role.LEADER || (state != null && state.state().epoch() > s.epoch())) {
        return; // superseded while queued
      }
      if (store == null || store.position().epoch() > s.epoch()) {
        log.warn("shard {}: not leading at epoch {}: the store is at {}", shard, s.epoch(),
            store == null ? "nothing (being replaced)" : store.position());
        role = Role.FOLLOWER;
        return;
      }
      history = new LogHistory(store.epochHistory(), store.position());
    }
    LogEntry barrier = new LogEntry(s.epoch(), store.position().seq() + 1, List.of());
    store.apply(barrier);
    List<String> followers;
    List<Runnable> run;
    synchronized (this) {
      history = history.append(barrier.epoch());
      long now = nanos.getAsLong();
      progress = new LeaderProgress(self, s.epoch(), settings.minInSync(), s.followers(),
          s.isr(), barrier.seq(), now);
      sending.clear();
      tail = null;
      if (!s.followers().isEmpty()) {
        // What it applied as a follower, if it ends right before this epoch's first entry.
        tail = followed != null && followed.nextSeq() == barrier.seq()
            ? followed : new LogTail(settings.tailBytes(), barrier.seq());
        tail.add(barrier.seq(), LogEntryCodec.encode(barrier));
        for (String f : s.followers()) {
          Sending out = new Sending();
          out.nextSeq = barrier.seq();
          out.probedAtNanos = now;
          sending.put(f, out);
        }
      }
      followed = null;
      state = read;
      servingEpoch = s.epoch();
      run = commitLocked();
      followers = List.copyOf(sending.keySet());
      log.info("shard {}: leading at epoch {} from {} (in sync: {})", shard, s.epoch(),
          history.end(), s.isr().keySet());
    }
    run.forEach(Runnable::run);
    if (!followers.isEmpty()) {
      listener.entriesFor(this, followers);
    }
  }

  /**
   * Leading, the shard's replicas changed within this epoch: starts sending to new followers
   * (their first append is a probe, answered with their position, from which the leader
   * resends or rebuilds, as for any follower) and stops sending to removed ones. Until this,
   * followers were fixed when a leadership began, so a replica added by a move got nothing
   * until the next election.
   *
   * @return the followers added
   */
  private List<String> followersChangedLocked(List<String> now) {
    long t = nanos.getAsLong();
    List<String> added = new ArrayList<>();
    for (String f : now) {
      if (!sending.containsKey(f)) {
        Sending out = new Sending();
        out.nextSeq = progress.logEnd() + 1;
        out.probedAtNanos = t;
        sending.put(f, out);
        added.add(f);
      }
    }
    sending.keySet().removeIf(f -> !now.contains(f));
    progress.followersChanged(now, t);
    if (tail == null && !added.isEmpty()) {
      // Led without followers so far: keep entries from here on for the new one.
      tail = new LogTail(settings.tailBytes(), progress.logEnd() + 1);
    }
    return added;
  }

  private void stepDownLocked(String why) {
    log.info("shard {}: no longer leading at epoch {}: {}", shard, servingEpoch, why);
    servingEpoch = -1;
    role = Role.FOLLOWER;
    progress = null;
    tail = null;
    sending.clear();
    endHandoverLocked("no longer leading: " + why);
    // The gate's position is where this replica last followed; it has appended as leader since.
    // Made again from the store at the next append, so that following the new leader starts at
    // the real end of this log (a handover's old leader follows on with no extra round trip).
    gate = null;
    List<Pending> all = new ArrayList<>();
    pending.values().forEach(all::addAll);
    pending.clear();
    // Failed outside the monitor would be tidier, but a failure callback only completes a
    // future exceptionally, which runs no code of ours under it.
    for (Pending p : all) {
      p.failed().accept(new ShardFencedException(shard, true));
    }
  }

  /** The shard closed on this node (no longer a replica here, or the node stops). */
  synchronized void closed() {
    if (role == Role.LEADER) {
      stepDownLocked("the shard closed on this node");
    }
    role = Role.NONE;
  }

  // --------------------------------------------------------------------- leader: sending

  /** What {@link #nextAppend} hands the sender for one follower. */
  record Append(long epoch, LogPosition previous, List<byte[]> entries, long lastSeq) {}

  /** The next append for {@code follower}, or null if there is nothing to send now. */
  synchronized Append nextAppend(String follower, long maxBytes) {
    Sending s = sending.get(follower);
    if (role != Role.LEADER || progress == null || s == null || s.inFlight || s.snapshotting
        || nanos.getAsLong() - s.retryAtNanos < 0) {
      return null;
    }
    if (s.resnapshot) {
      s.resnapshot = false;
      s.snapshotting = true;
      listener.snapshotNeeded(this, follower);
      return null;
    }
    if (s.answered && s.nextSeq > progress.logEnd()) {
      return null;
    }
    if (s.nextSeq < tail.firstSeq()) {
      s.snapshotting = true;
      listener.snapshotNeeded(this, follower);
      return null;
    }
    List<byte[]> entries = s.nextSeq > progress.logEnd() ? List.of() : tail.from(s.nextSeq, maxBytes);
    s.inFlight = true;
    return new Append(progress.epoch(), history.positionOf(s.nextSeq - 1), entries,
        s.nextSeq - 1 + entries.size());
  }

  /** The follower's answer to an append sent at {@code epoch}. */
  void onAck(String follower, long epoch, AckView ack) {
    List<Runnable> run = List.of();
    boolean more = false;
    synchronized (this) {
      Sending s = sending.get(follower);
      if (s == null || role != Role.LEADER || progress == null || progress.epoch() != epoch) {
        return;
      }
      s.inFlight = false;
      s.answered = true;
      long now = nanos.getAsLong();
      switch (ack.outcome()) {
        case APPLIED -> {
          progress.acknowledged(follower, ack.storeId(), ack.position().seq(), now);
          s.nextSeq = ack.position().seq() + 1;
          run = commitLocked();
          more = s.nextSeq <= progress.logEnd();
          run = withHandoverReadyLocked(run);
        }
        case MISMATCH -> {
          // Not an acknowledgement of any entry (seq -1), but the store it answers from, so a
          // member back with another store leaves the in-sync set at once.
          progress.acknowledged(follower, ack.storeId(), -1, now);
          switch (history.planFor(ack.position(), tail.firstSeq())) {
            case LogHistory.CatchUp.Resend r -> {
              log.info("shard {}: follower {} (store {}) is at {}; sending entries from {}",
                  shard, follower, ack.storeId(), ack.position(), r.fromSeq());
              s.nextSeq = r.fromSeq();
              more = true;
            }
            case LogHistory.CatchUp.Rebuild r -> {
              log.info("shard {}: follower {} needs a snapshot: {}", shard, follower, r.why());
              s.snapshotting = true;
              listener.snapshotNeeded(this, follower);
            }
          }
        }
        case STALE_EPOCH -> {
          log.warn("shard {}: follower {} knows epoch {}, newer than this leader's {}", shard,
              follower, ack.knownEpoch(), epoch);
          stepDownLocked("follower " + follower + " knows a newer epoch " + ack.knownEpoch());
          listener.refreshNeeded(shard);
        }
        case NOT_FOLLOWING, FAILED -> {
          s.retryAtNanos = now + RETRY_NANOS;
          if (ack.outcome() == AckView.Outcome.NOT_FOLLOWING
              && NO_STORE_DETAIL.equals(ack.detail())) {
            // No store open for the shard there: an install of another leader's (or of this
            // one's, cut short and expired) holds it half replaced. Only a snapshot brings it
            // back; probing would hear NOT_FOLLOWING for ever.
            s.resnapshot = true;
          }
        }
      }
    }
    run.forEach(Runnable::run);
    if (more) {
      listener.entriesFor(this, List.of(follower));
    }
  }

  /** An append to {@code follower} got no answer. */
  synchronized void onSendFailed(String follower) {
    Sending s = sending.get(follower);
    if (s != null) {
      s.inFlight = false;
      s.retryAtNanos = nanos.getAsLong() + RETRY_NANOS;
    }
  }

  /** A snapshot of this leader's copy is about to be taken for {@code follower}: keep its tail. */
  synchronized boolean snapshotStarting(long seq) {
    if (role != Role.LEADER || tail == null) {
      return false;
    }
    tail.pin(seq + 1);
    return true;
  }

  /** The follower installed a snapshot at {@code at}, or failed to (null). */
  void snapshotDone(String follower, long pinnedSeq, LogPosition at, String storeId) {
    List<Runnable> run = List.of();
    synchronized (this) {
      if (tail != null && pinnedSeq >= 0) {
        tail.unpin(pinnedSeq + 1);
      }
      Sending s = sending.get(follower);
      if (s == null || role != Role.LEADER || progress == null) {
        return;
      }
      s.snapshotting = false;
      if (at == null) {
        s.retryAtNanos = nanos.getAsLong() + 5 * RETRY_NANOS;
        s.resnapshot = true;
      } else {
        s.nextSeq = at.seq() + 1;
        s.answered = true;
        progress.acknowledged(follower, storeId, at.seq(), nanos.getAsLong());
        run = commitLocked();
      }
    }
    run.forEach(Runnable::run);
    listener.entriesFor(this, List.of(follower));
  }

  /** Releases a pin a kept copy held (taken at {@code epoch}), if this replica still leads then. */
  synchronized void releasePin(long epoch, long pinnedSeq) {
    if (role == Role.LEADER && progress != null && progress.epoch() == epoch && tail != null
        && pinnedSeq >= 0) {
      tail.unpin(pinnedSeq + 1);
    }
  }

  /** The epoch this replica leads at, -1 when it does not lead: what a kept copy belongs to. */
  synchronized long servingEpochForShipping() {
    return role == Role.LEADER && progress != null ? progress.epoch() : -1;
  }

  /**
   * For a leader: the followers outside the in-sync set (being copied to or catching up), with
   * how many entries of its log each has not acknowledged (-1: it has not answered this
   * leadership yet). Empty when not leading.
   */
  public synchronized Map<String, Long> catchingUp() {
    Map<String, Long> out = new TreeMap<>();
    if (role == Role.LEADER && progress != null) {
      for (Map.Entry<String, Sending> e : sending.entrySet()) {
        String f = e.getKey();
        if (!progress.inSync().containsKey(f) || e.getValue().snapshotting) {
          long acked = progress.acked(f);
          out.put(f, acked < 0 ? -1 : Math.max(0, progress.logEnd() - acked));
        }
      }
    }
    return out;
  }

  // ------------------------------------------------------------------- leader: timer work

  /** What the timer asks the runtime to write: a new in-sync set. */
  /**
   * @param resume whether this is a paused leader's reassert (its own state written again at
   *     its version, so that a handover the controller has not written yet can no longer be)
   */
  record InSyncProposal(VersionedShardState read, Map<String, String> inSync, String why,
      boolean resume) {}

  /**
   * The timer's pass: releases what the session lease now allows, fails replies past their
   * deadline, and proposes one in-sync change if one is due and none is being written.
   */
  InSyncProposal tick() {
    List<Runnable> run;
    List<Pending> expired = new ArrayList<>();
    InSyncProposal proposal = null;
    synchronized (this) {
      if (role != Role.LEADER || progress == null) {
        return null;
      }
      run = commitLocked();
      long now = nanos.getAsLong();
      for (Map.Entry<String, Sending> e : sending.entrySet()) {
        Sending out = e.getValue();
        if (!progress.inSync().containsKey(e.getKey()) && out.answered && !out.inFlight
            && !out.snapshotting && now - out.probedAtNanos > PROBE_NANOS) {
          out.answered = false; // the next send is a probe
          out.probedAtNanos = now;
        }
      }
      var it = pending.entrySet().iterator();
      while (it.hasNext()) {
        var e = it.next();
        e.getValue().removeIf(p -> {
          if (now - p.deadlineNanos() > 0) {
            expired.add(p);
            return true;
          }
          return false;
        });
        if (e.getValue().isEmpty()) {
          it.remove();
        }
      }
      if (handover != null) {
        if (handover.leaseEnded(now)) {
          log.warn("shard {}: the handover to {} was not completed within its lease; resuming"
              + " as leader once a conditional write of this shard's state succeeds", shard,
              handover.to());
          failHandoverWaitersLocked("the handover to " + handover.to() + " ran out of time");
        }
        if (handover.phase() == LeaderHandover.Phase.RESUMING && !inSyncWriteInFlight
            && state != null && state.version() > reassertTriedVersion) {
          reassertTriedVersion = state.version();
          resumeInFlight = true;
          inSyncWriteInFlight = true;
          proposal = new InSyncProposal(state, progress.inSync(), "resuming after the handover to "
              + handover.to() + " was not completed", true);
        }
        run = withHandoverReadyLocked(run);
      }
      if (!inSyncWriteInFlight && state != null && state.version() >= 0
          && (handover == null || handover.mayChangeInSync())) {
        List<String> lagging = progress.laggingMembers(now, settings.replicaLagMax().toNanos());
        if (!lagging.isEmpty()) {
          Map<String, String> next = new java.util.LinkedHashMap<>(progress.inSync());
          lagging.forEach(next::remove);
          proposal = new InSyncProposal(state, next, "dropping " + lagging
              + " (behind for more than " + settings.replicaLagMax().toMillis()
              + " ms, or answering from another store)", false);
        } else {
          Optional<Map.Entry<String, String>> join = progress.readyToJoin();
          if (join.isPresent()) {
            Map<String, String> next = new java.util.LinkedHashMap<>(progress.inSync());
            next.put(join.get().getKey(), join.get().getValue());
            proposal = new InSyncProposal(state, next, "adding " + join.get().getKey()
                + " (caught up, store " + join.get().getValue() + ")", false);
          }
        }
        inSyncWriteInFlight = proposal != null;
      }
    }
    run.forEach(Runnable::run);
    for (Pending p : expired) {
      p.failed().accept(new NotCommittedException(shard, describeWait()));
    }
    return proposal;
  }

  private synchronized String describeWait() {
    if (progress == null) {
      return "not leading";
    }
    Map<String, String> isr = progress.inSync();
    if (isr.size() < settings.minInSync()) {
      return "in sync: " + isr.keySet() + ", fewer than the minimum " + settings.minInSync();
    }
    List<String> behind = new ArrayList<>();
    for (String m : isr.keySet()) {
      if (!m.equals(self) && progress.acked(m) < progress.commitIndex() + 1) {
        behind.add(m);
      }
    }
    return behind.isEmpty() ? "waiting for the session lease (in sync alone)"
        : "waiting for in-sync " + behind + " to acknowledge";
  }

  /** The in-sync write proposed by {@link #tick} finished: written, refused (empty), or failed. */
  void inSyncWritten(Optional<VersionedShardState> written, boolean failed) {
    List<Runnable> run = List.of();
    synchronized (this) {
      inSyncWriteInFlight = false;
      boolean resuming = resumeInFlight;
      resumeInFlight = false;
      if (resuming && handover != null) {
        resumedLocked(written, failed);
        return;
      }
      if (failed) {
        return;
      }
      if (written.isEmpty()) {
        listener.refreshNeeded(shard);
        return;
      }
      VersionedShardState w = written.get();
      if (role == Role.LEADER && progress != null && progress.epoch() == w.state().epoch()) {
        state = w;
        countInSyncChangeLocked(w.state().isr());
        progress.inSyncChanged(w.state().isr());
        log.info("shard {}: in sync now {}", shard, w.state().isr().keySet());
        run = withHandoverReadyLocked(commitLocked());
      }
    }
    run.forEach(Runnable::run);
  }

  // ------------------------------------------------------------------- leader: handover

  /** A handover the leader refuses or gave up; the controller's handover fails with it. */
  public static final class HandoverRefusedException extends RuntimeException {
    HandoverRefusedException(int shard, String why) {
      super("shard " + shard + ": no handover: " + why, null, false, false);
    }
  }

  /**
   * The controller asks this leader to hand the shard over to {@code to} (docs/design.md,
   * "Leadership handover"): stop deciding rounds, and answer once {@code to} has acknowledged
   * the whole log, with the znode version the controller must write
   * at. The pause ends when the controller's write makes {@code to} leader (this replica then
   * follows), or by itself {@code leaseNanos} from now. Asked again for the same handover, it
   * joins the pause in progress.
   */
  CompletableFuture<LeaderHandover.Ready> prepareHandover(
      long epoch, String to, long leaseNanos) {
    var answer = new CompletableFuture<LeaderHandover.Ready>();
    boolean fresh;
    ShardWriter w;
    List<Runnable> run;
    synchronized (this) {
      if (role != Role.LEADER || progress == null || servingEpoch != epoch) {
        answer.completeExceptionally(new HandoverRefusedException(shard, "node " + self
            + " does not lead at epoch " + epoch + " (leading at " + servingEpoch + ")"));
        return answer;
      }
      if (!progress.inSync().containsKey(to)) {
        answer.completeExceptionally(new HandoverRefusedException(shard, "node " + to
            + " is not in sync (in sync: " + progress.inSync().keySet() + ")"));
        return answer;
      }
      long now = nanos.getAsLong();
      if (handover != null) {
        Optional<String> refused = handover.join(epoch, to, now);
        if (refused.isPresent()) {
          answer.completeExceptionally(new HandoverRefusedException(shard, refused.get()));
          return answer;
        }
        fresh = false;
      } else {
        handover = new LeaderHandover.Pause(epoch, to, now, leaseNanos);
        pausedForHandover = true;
        reassertTriedVersion = -1;
        fresh = true;
        log.info("shard {}: handing over to {} at epoch {}: deciding no more rounds", shard, to,
            epoch);
      }
      handoverWaiters.add(answer);
      w = writer.get();
      run = withHandoverReadyLocked(List.of());
    }
    run.forEach(Runnable::run);
    if (fresh && w != null) {
      // Rounds the writer decided before the pause may still be on their way to the log: once
      // this task runs on the writer thread, every one of them is appended.
      w.submit(store -> {
        drainedForHandover(epoch);
        return null;
      });
    }
    return answer;
  }

  private void drainedForHandover(long epoch) {
    List<Runnable> run;
    List<String> followers;
    synchronized (this) {
      if (handover == null || handover.epoch() != epoch) {
        return;
      }
      handover.drained();
      run = withHandoverReadyLocked(List.of());
      followers = List.copyOf(sending.keySet());
    }
    run.forEach(Runnable::run);
    listener.entriesFor(this, followers);
  }

  /** {@code run}, plus the answers to the handover's callers if the pause is ready now. */
  private List<Runnable> withHandoverReadyLocked(List<Runnable> run) {
    if (handover == null || progress == null || handoverWaiters.isEmpty() || state == null) {
      return run;
    }
    String to = handover.to();
    if (!handover.ready(progress.logEnd(), progress.commitIndex(), progress.acked(to),
        progress.inSync().containsKey(to), inSyncWriteInFlight, nanos.getAsLong())) {
      return run;
    }
    LeaderHandover.Ready ready =
        new LeaderHandover.Ready(handover.epoch(), history.end(), state.version());
    log.info("shard {}: ready to hand over to {}: it has the whole log to {}, znode version {}",
        shard, to, ready.end(), ready.version());
    List<CompletableFuture<LeaderHandover.Ready>> waiting =
        List.copyOf(handoverWaiters);
    handoverWaiters.clear();
    List<Runnable> out = new ArrayList<>(run);
    out.add(() -> waiting.forEach(f -> f.complete(ready)));
    return out;
  }

  private void failHandoverWaitersLocked(String why) {
    // Under the monitor, as stepDownLocked fails its rounds: the only continuation is the
    // endpoint's answer to the controller's call, which takes no lock of ours.
    for (var f : handoverWaiters) {
      f.completeExceptionally(new HandoverRefusedException(shard, why));
    }
    handoverWaiters.clear();
  }

  private void endHandoverLocked(String why) {
    if (handover == null) {
      return;
    }
    failHandoverWaitersLocked(why);
    handover = null;
    pausedForHandover = false;
  }

  /** The reassert write of a paused leader whose lease ran out came back. */
  private void resumedLocked(Optional<VersionedShardState> written, boolean failed) {
    if (failed) {
      if (!sessionLease.getAsBoolean()) {
        // ZooKeeper is out of reach: neither write can land while it is, and the ZooKeeper-outage
        // rule keeps shards answering. Should the controller's write have landed before, this
        // replica's next entries are refused by the new leader (it knows the newer epoch) and
        // nothing is lost; this replica may then need a rebuild, the price of staying available.
        log.warn("shard {}: cannot reach ZooKeeper to end the handover to {}; resuming", shard,
            handover.to());
        endHandoverLocked("resumed without ZooKeeper");
      } else {
        reassertTriedVersion = -1; // try again at the next tick
      }
      return;
    }
    if (written.isEmpty()) {
      // The znode moved: perhaps the controller's write. Read it; until then stay paused.
      listener.refreshNeeded(shard);
      return;
    }
    state = written.get();
    log.info("shard {}: the handover to {} did not happen; leading again at epoch {}", shard,
        handover.to(), servingEpoch);
    endHandoverLocked("resumed");
  }

  /** Whether this replica is paused for a handover now (for tests and status). */
  public boolean handingOver() {
    return pausedForHandover;
  }

  // ------------------------------------------------------------------------------ follower

  /** A follower's answer to one shard's append, as the endpoint sends it back. */
  public record AckView(Outcome outcome, LogPosition position, long knownEpoch, String storeId,
      String detail) {
    public enum Outcome { APPLIED, STALE_EPOCH, MISMATCH, NOT_FOLLOWING, FAILED }
  }

  /**
   * Writer thread of a follower: decides an append and applies its entries without syncing;
   * the endpoint syncs the node's log once for the whole call before it answers APPLIED.
   */
  AckView applyAppend(ShardStore store, long epoch, LogPosition previous, List<byte[]> entries) {
    synchronized (this) {
      if (role == Role.LEADER && epoch > knownEpoch) {
        // Only the controller makes epochs, so an append of a newer one proves this replica
        // was deposed (a handover's old leader hears its successor before ZooKeeper's news):
        // step down now, as on a follower's STALE_EPOCH, and follow; the read confirms it.
        stepDownLocked("an append from the leader of epoch " + epoch + " arrived");
        listener.refreshNeeded(shard);
      }
      if (store == null) {
        return new AckView(AckView.Outcome.NOT_FOLLOWING, history.end(), knownEpoch, "",
            NO_STORE_DETAIL);
      }
      if (role != Role.FOLLOWER) {
        return new AckView(AckView.Outcome.NOT_FOLLOWING, history.end(), knownEpoch,
            store.storeId(), "not following shard " + shard + " now");
      }
      if (gate == null) {
        gate = new FollowerGate(store.position());
        gate.learned(knownEpoch, false);
      }
      FollowerGate.Outcome outcome = gate.offer(epoch, previous);
      knownEpoch = gate.knownEpoch();
      switch (outcome) {
        case STALE_EPOCH -> {
          return new AckView(AckView.Outcome.STALE_EPOCH, gate.position(), knownEpoch,
              store.storeId(), "");
        }
        case MISMATCH -> {
          return new AckView(AckView.Outcome.MISMATCH, gate.position(), knownEpoch,
              store.storeId(), "");
        }
        case NOT_FOLLOWING -> {
          return new AckView(AckView.Outcome.NOT_FOLLOWING, gate.position(), knownEpoch,
              store.storeId(), "");
        }
        case APPLY -> { }
      }
      try {
        for (byte[] encoded : entries) {
          LogEntry e = LogEntryCodec.decode(encoded);
          store.applyWithoutSync(e);
          history = history.append(e.epoch());
          gate.applied(new LogPosition(e.epoch(), e.seq()));
          if (followed == null || followed.nextSeq() != e.seq()) {
            followed = new LogTail(settings.tailBytes(), e.seq());
          }
          followed.add(e.seq(), encoded);
        }
      } catch (RuntimeException e) {
        // What was applied stays applied (each entry is atomic); the position says how far.
        gate = null;
        followed = null;
        return new AckView(AckView.Outcome.FAILED, store.position(), knownEpoch, store.storeId(),
            e.toString());
      }
      return new AckView(AckView.Outcome.APPLIED, gate.position(), knownEpoch, store.storeId(), "");
    }
  }

  /**
   * A follower's answer while its store is detached for an install: the leader must send a
   * snapshot (resume its own, or replace another leader's unfinished one).
   */
  static final String NO_STORE_DETAIL = "no store open: an install is replacing it";

  /** Whether a snapshot from the leader of {@code epoch} may replace this follower's copy. */
  synchronized boolean mayInstall(long epoch) {
    if (role != Role.FOLLOWER || epoch < knownEpoch) {
      return false;
    }
    knownEpoch = epoch;
    return true;
  }

  /** The epochs of this replica's log, for tests and status. */
  synchronized List<EpochStart> epochs() {
    return history.epochs();
  }

  // ------------------------------------------------------- figures for the node's metrics

  /** Changes of the in-sync set, while this replica led, that removed or added members. */
  private long inSyncShrinks;
  private long inSyncExpands;

  /** How many changes of the in-sync set seen while leading removed a member. */
  public synchronized long inSyncShrinks() {
    return inSyncShrinks;
  }

  /** How many changes of the in-sync set seen while leading added a member. */
  public synchronized long inSyncExpands() {
    return inSyncExpands;
  }

  /**
   * Counts a leader's change of the in-sync set to {@code next}: its own writes, and the
   * controller's removal of departed followers. A member whose store alone changed is neither.
   */
  private void countInSyncChangeLocked(Map<String, String> next) {
    Map<String, String> before = progress.inSync();
    if (!next.keySet().containsAll(before.keySet())) {
      inSyncShrinks++;
    }
    if (!before.keySet().containsAll(next.keySet())) {
      inSyncExpands++;
    }
  }
}
