package dev.dedupe.server.replication.sim;

import dev.dedupe.server.replication.FollowerGate;
import dev.dedupe.server.replication.LeaderElection;
import dev.dedupe.server.replication.LeaderHandover;
import dev.dedupe.server.replication.LeaderProgress;
import dev.dedupe.server.replication.LogHistory;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.storage.LogPosition;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One simulated node: a durable disk (one {@link SimLog} per shard replica it holds) and a
 * volatile part lost on crash (follower gates, leader state, session, controller role). It
 * drives the real protocol classes: {@link FollowerGate}, {@link LeaderProgress},
 * {@link LogHistory#planFor}, {@link LeaderElection#decide}. Its timers run on a local clock
 * whose rate differs slightly from the global one.
 */
public final class SimNode {

  record Pending(String client, long requestId, long waitSeq, Msg.Result result, long deadline) {}

  static final class Leader {
    LeaderProgress progress;
    final List<Entry> tail = new ArrayList<>();
    final TreeMap<String, Long> next = new TreeMap<>();
    final TreeMap<String, Long> snapshotHold = new TreeMap<>();
    final ArrayDeque<Pending> pending = new ArrayDeque<>();
    /** While handing over: the pause, and the controller to answer (null once answered). */
    LeaderHandover.Pause pause;
    String answerTo;
    long answerCtrlEpoch;
  }

  /** A handover this node asked for as controller, until the leader answers or time runs out. */
  private record Asked(String to, long epoch, boolean makePreferred, long deadline) {}

  private final TreeMap<Integer, Asked> asked = new TreeMap<>();

  static final class Replica {
    final int shard;
    FollowerGate gate;
    Leader leader;

    Replica(int shard, FollowerGate gate) {
      this.shard = shard;
      this.gate = gate;
    }
  }

  final String id;
  private final SimCluster c;
  private final Sim sim;
  private final SimConfig cfg;
  final double rate;
  boolean up;
  long pausedUntil;
  private int incarnation;
  private int storeGen;
  final TreeMap<Integer, SimLog> disk = new TreeMap<>();
  final TreeMap<Integer, Replica> replicas = new TreeMap<>();
  private long session;
  private long leaseEnd = -1;
  private long ctrlEpoch;

  SimNode(String id, SimCluster c, double rate) {
    this.id = id;
    this.c = c;
    this.sim = c.sim;
    this.cfg = c.cfg;
    this.rate = rate;
  }

  long localMs() {
    return (long) (sim.now() * rate);
  }

  private long localNanos() {
    return (long) (sim.now() * rate * 1_000_000);
  }

  boolean running() {
    return up && sim.now() >= pausedUntil;
  }

  // --- life cycle ---

  String storeFor(int shard) {
    return id + "/" + shard + "#" + storeGen;
  }

  void start() {
    up = true;
    incarnation++;
    replicas.clear();
    session = 0;
    leaseEnd = -1;
    ctrlEpoch = 0;
    asked.clear();
    for (int shard : c.shardsOf(id)) {
      SimLog log = disk.computeIfAbsent(shard, s -> new SimLog(storeFor(s)));
      replicas.put(shard, new Replica(shard, new FollowerGate(log.end())));
    }
    sim.trace(id + " START stores " + stores());
    int inc = incarnation;
    loop(inc, cfg.sessionTimeout() / 3, 0, this::heartbeat);
    loop(inc, 40, sim.between(1, 20), this::poll);
    loop(inc, 12, sim.between(1, 12), this::leaderTick);
    loop(inc, 50, sim.between(1, 50), this::controllerTick);
  }

  void crash(boolean loseDisk) {
    up = false;
    incarnation++;
    replicas.clear();
    if (loseDisk) {
      disk.clear();
      storeGen++;
    }
    sim.trace(id + (loseDisk ? " CRASH and LOSES ITS DISK" : " CRASH"));
  }

  void pause(long until) {
    pausedUntil = Math.max(pausedUntil, until);
    sim.trace(id + " PAUSE until " + pausedUntil);
  }

  private Map<Integer, String> stores() {
    Map<Integer, String> out = new TreeMap<>();
    disk.forEach((s, log) -> out.put(s, log.storeId));
    return out;
  }

  /** Runs {@code r} for this incarnation, after any pause, with the order of events kept. */
  private void run(int inc, Runnable r) {
    if (!up || inc != incarnation) {
      return;
    }
    if (sim.now() < pausedUntil) {
      sim.at(pausedUntil, () -> run(inc, r));
      return;
    }
    r.run();
  }

  private void timer(int inc, long localDelay, Runnable r) {
    sim.after((long) Math.ceil(localDelay / rate), () -> run(inc, r));
  }

  private void loop(int inc, long period, long first, Runnable r) {
    timer(inc, first, () -> {
      r.run();
      loop(inc, period, period, r);
    });
  }

  void receive(Msg m) {
    run(incarnation, () -> handle(m));
  }

  private void handle(Msg m) {
    switch (m) {
      case Msg.Append a -> onAppend(a);
      case Msg.Snapshot s -> onSnapshot(s);
      case Msg.AppendReply r -> onReply(r);
      case Msg.Request q -> onRequest(q);
      case Msg.Reply r -> { }
      case Msg.PrepareHandover p -> onPrepareHandover(p);
      case Msg.HandoverReady h -> onHandoverReady(h);
    }
  }

  // --- session ---

  private void heartbeat() {
    long sent = localMs();
    if (session == 0) {
      session = c.zk.openSession(id, stores());
      if (session != 0) {
        leaseEnd = sent + 2 * cfg.sessionTimeout() / 3;
        poll();
      }
      return;
    }
    switch (c.zk.heartbeat(id, session)) {
      case OK -> leaseEnd = sent + 2 * cfg.sessionTimeout() / 3;
      case EXPIRED -> {
        sim.trace(id + " learns its session expired");
        session = 0;
        leaseEnd = -1;
        ctrlEpoch = 0;
        for (Replica r : replicas.values()) {
          stepDown(r, "session expired");
        }
        heartbeat();
      }
      case UNREACHABLE -> { }
    }
  }

  private boolean leaseLive() {
    return localMs() < leaseEnd;
  }

  // --- reading ZooKeeper: epochs, leadership ---

  private void poll() {
    if (session == 0) {
      return;
    }
    for (Replica r : replicas.values()) {
      SimZooKeeper.Versioned v = c.zk.read(id, session, r.shard);
      if (v == null) {
        return;
      }
      ShardState st = v.state();
      r.gate.learned(st.epoch(), st.isLeader(id));
      if (r.leader != null && st.epoch() > r.leader.progress.epoch()) {
        stepDown(r, "deposed: epoch " + st.epoch() + " leader '" + st.leader() + "'");
      } else if (r.leader != null && st.epoch() == r.leader.progress.epoch()
          && !st.isr().equals(r.leader.progress.inSync())) {
        // The controller changed the in-sync set (dropped a departed member), as ShardReplica
        // learns it from the cluster member's reads.
        r.leader.progress.inSyncChanged(st.isr());
        sim.trace(id + " shard " + r.shard + " learns isr " + st.isr());
        commit(r);
      }
      SimLog log = disk.get(r.shard);
      String mine = st.isr().get(id);
      if (r.leader == null && st.isLeader(id) && r.gate.knownEpoch() == st.epoch()
          && (log.storeId.equals(mine) || "".equals(mine))) {
        becomeLeader(r, st);
      }
    }
  }

  private void becomeLeader(Replica r, ShardState st) {
    SimLog log = disk.get(r.shard);
    Entry barrier = new Entry(st.epoch(), log.end().seq() + 1, Map.of());
    log.apply(barrier);
    r.gate.applied(log.end());
    Leader l = new Leader();
    l.tail.add(barrier);
    l.progress = new LeaderProgress(id, st.epoch(), cfg.minInSync(), st.followers(), st.isr(),
        barrier.seq(), localNanos());
    for (String f : st.followers()) {
      l.next.put(f, barrier.seq());
    }
    r.leader = l;
    sim.trace(id + " LEADS shard " + r.shard + " at epoch " + st.epoch() + ", barrier " + barrier
        + ", isr " + st.isr());
    sendAppends(r);
  }

  private void stepDown(Replica r, String why) {
    Leader l = r.leader;
    if (l == null) {
      return;
    }
    r.leader = null;
    sim.trace(id + " stops leading shard " + r.shard + " (epoch " + l.progress.epoch() + "): " + why
        + "; fails " + l.pending.size() + " pending");
    for (Pending p : l.pending) {
      reply(p, Msg.Result.UNAVAILABLE);
    }
  }

  // --- leader ---

  private void onRequest(Msg.Request q) {
    Replica r = replicas.get(q.shard());
    if (r == null || r.leader == null || r.leader.pause != null) {
      c.net.send(id, q.client(), new Msg.Reply(q.requestId(), Msg.Result.UNAVAILABLE));
      return;
    }
    Leader l = r.leader;
    SimLog log = disk.get(q.shard());
    String value = log.get(q.id());
    long deadline = localMs() + cfg.replicationTimeout();
    if (value == null) {
      Entry e = new Entry(l.progress.epoch(), log.end().seq() + 1, Map.of(q.id(), q.token()));
      log.apply(e);
      r.gate.applied(log.end());
      l.tail.add(e);
      while (l.tail.size() > cfg.tailMax()) {
        l.tail.remove(0);
      }
      l.progress.appended(e.seq(), localNanos());
      l.pending.add(new Pending(q.client(), q.requestId(), e.seq(), Msg.Result.NEW, deadline));
      sim.trace(id + " shard " + q.shard() + " appends " + e + " for " + q.client() + "#" + q.requestId());
      sendAppends(r);
    } else {
      Msg.Result result = value.equals(q.token()) ? Msg.Result.NEW : Msg.Result.DUPLICATE;
      l.pending.add(new Pending(q.client(), q.requestId(), log.end().seq(), result, deadline));
    }
    commit(r);
  }

  private void reply(Pending p, Msg.Result result) {
    sim.trace(id + " replies " + result + " to " + p.client() + "#" + p.requestId());
    c.net.send(id, p.client(), new Msg.Reply(p.requestId(), result));
  }

  private void commit(Replica r) {
    Leader l = r.leader;
    long committed = l.progress.advance(leaseLive());
    while (!l.pending.isEmpty() && l.pending.peekFirst().waitSeq() <= committed) {
      Pending p = l.pending.pollFirst();
      reply(p, p.result());
    }
    long now = localMs();
    while (!l.pending.isEmpty() && l.pending.peekFirst().deadline() <= now) {
      reply(l.pending.pollFirst(), Msg.Result.UNAVAILABLE);
    }
    handoverReady(r);
  }

  private void leaderTick() {
    for (Replica r : replicas.values()) {
      if (r.leader != null) {
        resumeIfLeaseEnded(r);
      }
      if (r.leader != null) {
        changeInSync(r);
      }
      if (r.leader != null) {
        sendAppends(r);
        commit(r);
      }
    }
  }

  private void changeInSync(Replica r) {
    Leader l = r.leader;
    if (l.pause != null && !l.pause.mayChangeInSync()) {
      return; // answered ready: the znode version the controller writes at must stay
    }
    List<String> lagging = l.progress.laggingMembers(localNanos(), cfg.lagMax() * 1_000_000);
    Map<String, String> target = null;
    if (!lagging.isEmpty()) {
      target = new LinkedHashMap<>(l.progress.inSync());
      lagging.forEach(target::remove);
    } else {
      Optional<Map.Entry<String, String>> join = l.progress.readyToJoin();
      if (join.isPresent()) {
        target = new LinkedHashMap<>(l.progress.inSync());
        target.put(join.get().getKey(), join.get().getValue());
      }
    }
    if (target == null || session == 0) {
      return;
    }
    SimZooKeeper.Versioned v = c.zk.read(id, session, r.shard);
    if (v == null) {
      return; // cannot write: keep waiting for the member
    }
    if (v.state().epoch() != l.progress.epoch() || !v.state().isLeader(id)) {
      stepDown(r, "the znode moved on to epoch " + v.state().epoch());
      return;
    }
    if (c.zk.writeAsLeader(id, session, v.version(), v.state().withIsr(target))) {
      l.progress.inSyncChanged(target);
      sim.trace(id + " shard " + r.shard + " isr now " + target
          + (lagging.isEmpty() ? "" : " (dropped lagging " + lagging + ")"));
    }
  }

  private void sendAppends(Replica r) {
    Leader l = r.leader;
    SimLog log = disk.get(r.shard);
    long end = log.end().seq();
    long tailFirst = l.tail.get(0).seq();
    for (Map.Entry<String, Long> f : l.next.entrySet()) {
      long n = Math.min(f.getValue(), end + 1);
      if (n < tailFirst) {
        // Older than the tail: probe at the end; the follower's answer decides (planFor).
        c.net.send(id, f.getKey(), new Msg.Append(r.shard, l.progress.epoch(), id, log.end(), List.of()));
        continue;
      }
      int from = (int) (n - tailFirst);
      int to = (int) Math.min(l.tail.size(), from + cfg.batchMax());
      List<Entry> entries = List.copyOf(l.tail.subList(from, to));
      c.net.send(id, f.getKey(), new Msg.Append(r.shard, l.progress.epoch(), id,
          log.history().positionOf(n - 1), entries));
    }
  }

  private void onReply(Msg.AppendReply m) {
    Replica r = replicas.get(m.shard());
    if (r == null || r.leader == null || r.leader.progress.epoch() != m.epoch()) {
      return;
    }
    Leader l = r.leader;
    SimLog log = disk.get(m.shard());
    switch (m.outcome()) {
      case APPLY -> {
        if (!log.history().holds(m.position())) {
          throw new IllegalStateException(id + ": " + m.follower() + " acknowledged " + m.position()
              + " which is not in the leader's log " + log.history());
        }
        l.progress.acknowledged(m.follower(), m.store(), m.position().seq(), localNanos());
        l.next.put(m.follower(), m.position().seq() + 1);
        commit(r);
      }
      case MISMATCH -> {
        LogHistory.CatchUp plan = log.history().planFor(m.position(), l.tail.get(0).seq());
        switch (plan) {
          case LogHistory.CatchUp.Resend resend -> l.next.put(m.follower(), resend.fromSeq());
          case LogHistory.CatchUp.Rebuild rebuild -> {
            long hold = l.snapshotHold.getOrDefault(m.follower(), Long.MIN_VALUE);
            if (localMs() >= hold) {
              l.snapshotHold.put(m.follower(), localMs() + 40);
              l.next.put(m.follower(), log.end().seq() + 1);
              sim.trace(id + " shard " + m.shard() + " rebuilds " + m.follower() + " at "
                  + m.position() + " from a snapshot at " + log.end() + ": " + rebuild.why());
              c.net.send(id, m.follower(), new Msg.Snapshot(m.shard(), l.progress.epoch(), id,
                  m.position(), log.copyRecords(), log.history()));
            }
          }
        }
      }
      case STALE_EPOCH -> poll();
      case NOT_FOLLOWING -> { }
    }
  }

  // --- handover: the leader's side ---

  private void onPrepareHandover(Msg.PrepareHandover p) {
    Replica r = replicas.get(p.shard());
    if (r == null || r.leader == null) {
      return; // not leading: no answer, the controller gives up
    }
    Leader l = r.leader;
    if (l.progress.epoch() != p.epoch() || !l.progress.inSync().containsKey(p.to())) {
      return;
    }
    long now = localNanos();
    long lease = p.leaseMs() * 1_000_000;
    if (l.pause == null) {
      l.pause = new LeaderHandover.Pause(p.epoch(), p.to(), now, lease);
      // Rounds are decided and appended in one step here: nothing is on its way to the log.
      l.pause.drained();
      sim.trace(id + " shard " + p.shard() + " PAUSES to hand over to " + p.to() + " at epoch "
          + p.epoch() + " (asked by " + p.controller() + ")");
    } else if (l.pause.join(p.epoch(), p.to(), now).isPresent()) {
      return;
    }
    l.answerTo = p.controller();
    l.answerCtrlEpoch = p.ctrlEpoch();
    handoverReady(r);
  }

  /** Answers the controller once the pause is ready, with the znode version it reads now. */
  private void handoverReady(Replica r) {
    Leader l = r.leader;
    if (l == null || l.pause == null || l.answerTo == null || session == 0) {
      return;
    }
    String to = l.pause.to();
    if (!l.pause.ready(l.progress.logEnd(), l.progress.commitIndex(), l.progress.acked(to),
        l.progress.inSync().containsKey(to), false, localNanos())) {
      return;
    }
    SimZooKeeper.Versioned v = c.zk.read(id, session, r.shard);
    if (v == null) {
      return; // answered at the next tick, if the lease has not run out
    }
    if (v.state().epoch() != l.progress.epoch() || !v.state().isLeader(id)) {
      stepDown(r, "the znode moved on to epoch " + v.state().epoch());
      return;
    }
    sim.trace(id + " shard " + r.shard + " READY to hand over to " + to + " at "
        + disk.get(r.shard).end() + ", version " + v.version());
    c.net.send(id, l.answerTo, new Msg.HandoverReady(r.shard, l.progress.epoch(), id, to,
        disk.get(r.shard).end(), v.version(), l.answerCtrlEpoch));
    l.answerTo = null;
  }

  /**
   * The lease ran out: resume only through a conditional write of the state as read (the
   * reassert), which the controller's write at the answered version cannot follow; without
   * ZooKeeper and without a live session lease, resume anyway (the real replica's rule).
   */
  private void resumeIfLeaseEnded(Replica r) {
    Leader l = r.leader;
    if (l.pause == null) {
      return;
    }
    l.pause.leaseEnded(localNanos());
    if (l.pause.phase() != LeaderHandover.Phase.RESUMING) {
      handoverReady(r);
      return;
    }
    SimZooKeeper.Versioned v = session == 0 ? null : c.zk.read(id, session, r.shard);
    if (v == null) {
      if (!leaseLive()) {
        sim.trace(id + " shard " + r.shard + " RESUMES without ZooKeeper");
        l.pause = null;
      }
      return;
    }
    if (v.state().epoch() != l.progress.epoch() || !v.state().isLeader(id)) {
      stepDown(r, "handed over: epoch " + v.state().epoch() + " leader '" + v.state().leader() + "'");
      return;
    }
    if (c.zk.writeAsLeader(id, session, v.version(), v.state())) {
      sim.trace(id + " shard " + r.shard + " RESUMES after the lease (reasserted at version "
          + v.version() + ")");
      l.pause = null;
    }
  }

  // --- handover: the controller's side ---

  /** As controller, asks the leader of {@code shard} to hand over to a random eligible replica. */
  void startHandover(int shard) {
    Asked pending = asked.get(shard);
    if (ctrlEpoch == 0 || session == 0 || !running()
        || (pending != null && localMs() <= pending.deadline())) {
      return; // one handover per shard at a time; an unanswered one is given up at its deadline
    }
    SimZooKeeper.Versioned v = c.zk.read(id, session, shard);
    if (v == null) {
      return;
    }
    ShardState st = v.state();
    Map<String, String> live = c.zk.liveStores(shard);
    List<String> candidates = st.replicas().stream()
        .filter(r -> LeaderHandover.refusal(st, r, live, java.util.Set.of()).isEmpty()).toList();
    if (candidates.isEmpty()) {
      return;
    }
    String to = candidates.get(sim.between(0, candidates.size() - 1));
    boolean preferred = sim.random.nextBoolean();
    asked.put(shard, new Asked(to, st.epoch(), preferred, localMs() + cfg.replicationTimeout()));
    sim.trace(id + " controller asks " + st.leader() + " to hand shard " + shard + " over to "
        + to + " at epoch " + st.epoch());
    c.net.send(id, st.leader(), new Msg.PrepareHandover(shard, st.epoch(), to, id, ctrlEpoch,
        cfg.replicationTimeout()));
  }

  private void onHandoverReady(Msg.HandoverReady h) {
    Asked a = asked.remove(h.shard());
    if (a == null || !a.to().equals(h.to()) || a.epoch() != h.epoch() || localMs() > a.deadline()
        || ctrlEpoch == 0 || ctrlEpoch != h.ctrlEpoch()) {
      return; // given up, or not the controller that asked
    }
    SimZooKeeper.Versioned v = c.zk.read(id, session, h.shard());
    if (v == null) {
      return;
    }
    ShardState st = v.state();
    if (v.version() != h.version() || st.epoch() != h.epoch() || !st.isLeader(h.leader())
        || LeaderHandover.refusal(st, h.to(), c.zk.liveStores(h.shard()), java.util.Set.of())
            .isPresent()) {
      return;
    }
    ShardState next = LeaderHandover.handedOver(st, h.to(), a.makePreferred());
    boolean ok = c.zk.writeAsController(id, session, ctrlEpoch, h.version(), next);
    if (ok) {
      c.handovers++;
    }
    sim.trace(id + " controller HANDS shard " + h.shard() + " OVER: " + SimZooKeeper.brief(next)
        + (ok ? "" : " (write refused)"));
  }

  /** Whether this node believes it is the controller. */
  boolean controlling() {
    return ctrlEpoch != 0;
  }

  // --- follower ---

  private void checkGate(Replica r) {
    if (!r.gate.position().equals(disk.get(r.shard).end())) {
      throw new IllegalStateException(id + " shard " + r.shard + ": gate at " + r.gate.position()
          + " but the log ends at " + disk.get(r.shard).end());
    }
  }

  private void onAppend(Msg.Append a) {
    Replica r = replicas.get(a.shard());
    if (r == null) {
      return;
    }
    checkGate(r);
    SimLog log = disk.get(a.shard());
    FollowerGate.Outcome o = r.gate.offer(a.epoch(), a.previous());
    if (o == FollowerGate.Outcome.APPLY) {
      for (Entry e : a.entries()) {
        log.apply(e);
      }
      r.gate.applied(log.end());
      if (!a.entries().isEmpty()) {
        sim.trace(id + " shard " + a.shard() + " applies " + a.entries() + " from " + a.leader());
      }
    }
    c.net.send(id, a.leader(), new Msg.AppendReply(a.shard(), a.epoch(), id, log.storeId, o,
        r.gate.position()));
  }

  private void onSnapshot(Msg.Snapshot s) {
    Replica r = replicas.get(s.shard());
    if (r == null) {
      return;
    }
    checkGate(r);
    SimLog log = disk.get(s.shard());
    FollowerGate.Outcome o = r.gate.offer(s.epoch(), s.replaces());
    if (o == FollowerGate.Outcome.APPLY) {
      log.replaceWith(s.records(), s.history());
      r.gate.rebuilt(log.end());
      sim.trace(id + " shard " + s.shard() + " REBUILT from " + s.leader() + " at " + log.end());
    }
    c.net.send(id, s.leader(), new Msg.AppendReply(s.shard(), s.epoch(), id, log.storeId, o,
        r.gate.position()));
  }

  // --- controller ---

  private void controllerTick() {
    if (session == 0) {
      return;
    }
    long e = c.zk.claimController(id, session);
    if (e == 0) {
      ctrlEpoch = 0;
      asked.clear();
      return;
    }
    ctrlEpoch = e;
    for (int shard = 0; shard < cfg.shards(); shard++) {
      SimZooKeeper.Versioned v = c.zk.read(id, session, shard);
      if (v == null) {
        return;
      }
      Map<String, String> live = c.zk.liveStores(shard);
      Map<String, LogPosition> positions = c.probe(id, v.state());
      Optional<ShardState> next = LeaderElection.decide(v.state(), live, positions);
      String what = "elects";
      if (next.isEmpty()) {
        // The leader stands: drop followers whose node is gone or back with another store.
        next = LeaderElection.withoutDeparted(v.state(), c.zk.registered(), live);
        what = "drops departed followers";
      }
      if (next.isPresent()) {
        boolean ok = c.zk.writeAsController(id, session, ctrlEpoch, v.version(), next.get());
        sim.trace(id + " controller " + what + ": " + SimZooKeeper.brief(next.get()) + " live "
            + live + " positions " + positions + (ok ? "" : " (write refused)"));
      }
    }
  }
}
