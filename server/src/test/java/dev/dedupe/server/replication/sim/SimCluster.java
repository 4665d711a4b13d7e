package dev.dedupe.server.replication.sim;

import dev.dedupe.server.replication.ReplicaPlacement;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.storage.LogPosition;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One seeded run: a cluster of {@link SimNode}s, a {@link SimZooKeeper}, a {@link SimNetwork}
 * and {@link SimClient}s; a fault phase, then healing (every partition removed, every node
 * running, ZooKeeper up), then the {@link Checker}'s invariants over the history and the
 * replicas.
 */
public final class SimCluster {

  /** What a run found. */
  public record Outcome(long seed, SimConfig cfg, List<String> failures, long steps, long simMillis,
      int calls, int lostShards, int handovers, String trace) {
    public boolean ok() {
      return failures.isEmpty();
    }
  }

  final Sim sim;
  final SimConfig cfg;
  final SimZooKeeper zk;
  final SimNetwork net;
  final History history = new History();
  final TreeMap<String, SimNode> nodes = new TreeMap<>();
  final TreeMap<String, SimClient> clients = new TreeMap<>();
  final List<List<String>> placement;
  boolean clientsActive = true;
  long nextRequestId = 1;
  private boolean wiped;

  SimCluster(long seed, int traceLimit) {
    this.sim = new Sim(seed, traceLimit);
    this.cfg = SimConfig.random(sim);
    this.zk = new SimZooKeeper(sim, cfg.sessionTimeout());
    this.net = new SimNetwork(sim, this::deliver);
    Map<String, String> zones = new TreeMap<>();
    for (int i = 1; i <= cfg.nodes(); i++) {
      String id = "n" + i;
      zones.put(id, "z" + (i % 3));
      nodes.put(id, new SimNode(id, this, 0.97 + sim.random.nextDouble() * 0.06));
    }
    placement = ReplicaPlacement.place(cfg.shards(), zones, cfg.replicationFactor());
    for (int s = 0; s < cfg.shards(); s++) {
      // The controller forms each shard with its first replica's store recorded.
      List<String> replicas = placement.get(s);
      String first = replicas.get(0);
      zk.create(new ShardState(s, replicas, first, 1, Map.of(first, first + "/" + s + "#0")));
    }
  }

  public static Outcome run(long seed, int traceLimit) {
    SimCluster c = new SimCluster(seed, traceLimit);
    List<String> failures = new ArrayList<>();
    try {
      c.execute(failures);
    } catch (RuntimeException e) {
      failures.add("exception: " + e);
    }
    return new Outcome(seed, c.cfg, failures, c.sim.steps(), c.sim.now(),
        (int) c.history.ops().stream().filter(o -> o.kind() == History.Kind.INVOKE).count(),
        c.lostShards, c.handovers, c.sim.traceText());
  }

  List<Integer> shardsOf(String node) {
    List<Integer> out = new ArrayList<>();
    for (int s = 0; s < placement.size(); s++) {
      if (placement.get(s).contains(node)) {
        out.add(s);
      }
    }
    return out;
  }

  int shardOf(String id) {
    if (id.startsWith("probe")) {
      return Integer.parseInt(id.substring(5, id.indexOf('.')));
    }
    return Integer.parseInt(id.substring(1)) % cfg.shards();
  }

  private void deliver(String to, Msg m) {
    SimNode n = nodes.get(to);
    if (n != null) {
      n.receive(m);
    } else {
      clients.get(to).receive(m);
    }
  }

  /** The controller's probe of replica positions: those it can reach now. */
  Map<String, LogPosition> probe(String from, ShardState st) {
    Map<String, LogPosition> out = new TreeMap<>();
    for (String r : st.replicas()) {
      SimNode n = nodes.get(r);
      if (n.running() && net.connected(from, r) && n.disk.containsKey(st.shard())) {
        out.put(r, n.disk.get(st.shard()).end());
      }
    }
    return out;
  }

  private void execute(List<String> failures) {
    for (SimNode n : nodes.values()) {
      n.start();
    }
    net.loss = cfg.loss();
    net.duplicate = cfg.duplicate();
    net.slowChance = cfg.slow();
    zkLoop();
    for (int i = 1; i <= cfg.clients(); i++) {
      SimClient client = new SimClient("c" + i, this, sim.between(2, 8), null);
      clients.put(client.name, client);
      sim.after(sim.between(0, 50), client::startNext);
    }
    sim.after(sim.between(50, 300), this::faultLoop);
    sim.runUntil(cfg.faultPhase());

    // Heal: no partitions, no loss, ZooKeeper up, every node running, clients stop.
    clientsActive = false;
    net.healAll();
    zk.healAll();
    for (SimNode n : nodes.values()) {
      if (!n.up) {
        n.start();
      } else if (n.pausedUntil > sim.now()) {
        n.pausedUntil = sim.now();
      }
    }
    sim.trace("HEALED");
    List<SimClient> probes = new ArrayList<>();
    for (int s = 0; s < cfg.shards(); s++) {
      SimClient p = new SimClient("p" + s, this, 1_000, "probe" + s + ".x");
      clients.put(p.name, p);
      probes.add(p);
      sim.after(0, p::startNext);
    }
    long budget = sim.now() + 30_000;
    boolean settled = false;
    while (sim.now() < budget) {
      sim.runUntil(sim.now() + 50);
      boolean probed = true;
      for (int s = 0; s < cfg.shards(); s++) {
        probed &= probes.get(s).succeeded || Checker.lostByDesign(this, s);
      }
      if (probed && Checker.converged(this)) {
        settled = true;
        break;
      }
    }
    if (!settled) {
      failures.add("liveness: not converged 30 s after healing: " + Checker.describe(this)
          + "; probes " + probes.stream().map(p -> p.name + "=" + p.succeeded).toList());
    }
    Checker.check(this, settled, failures);
    for (int s = 0; s < cfg.shards(); s++) {
      lostShards += Checker.lostByDesign(this, s) ? 1 : 0;
    }
  }

  int lostShards;
  /** Leaderships handed over cleanly (LeaderHandover) during the run. */
  int handovers;

  private void zkLoop() {
    zk.expire();
    sim.after(10, this::zkLoop);
  }

  private SimNode anyNode() {
    List<SimNode> all = new ArrayList<>(nodes.values());
    return all.get(sim.between(0, all.size() - 1));
  }

  private void faultLoop() {
    if (sim.now() >= cfg.faultPhase() - 200) {
      return;
    }
    long t = cfg.sessionTimeout();
    SimNode n = anyNode();
    switch (sim.between(0, 11)) {
      case 0, 1 -> {
        SimNode m = anyNode();
        if (m != n) {
          net.partition(n.id, m.id, true);
          sim.after(sim.between(50, (int) (2 * t)), () -> net.partition(n.id, m.id, false));
        }
      }
      case 2 -> {
        for (SimNode m : nodes.values()) {
          if (m != n) {
            net.partition(n.id, m.id, true);
          }
        }
        sim.after(sim.between(50, (int) (2 * t)), () -> {
          for (SimNode m : nodes.values()) {
            if (m != n) {
              net.partition(n.id, m.id, false);
            }
          }
        });
      }
      case 3 -> {
        zk.cut(n.id, true);
        sim.after(sim.between(50, (int) (3 * t)), () -> zk.cut(n.id, false));
      }
      case 4, 5 -> {
        if (n.up) {
          n.crash(false);
          sim.after(sim.between(20, (int) (3 * t)), () -> {
            if (!n.up) {
              n.start();
            }
          });
        }
      }
      case 6 -> {
        if (n.up && !wiped && wipeSafe(n)) {
          wiped = true;
          n.crash(true);
          sim.after(sim.between(20, (int) (3 * t)), () -> {
            if (!n.up) {
              n.start();
            }
          });
        }
      }
      case 7, 8 -> n.pause(sim.now() + sim.between(50, (int) (3 * t)));
      case 9 -> {
        if (zk.up()) {
          zk.setUp(false);
          sim.after(sim.between(50, (int) (2 * t)), () -> zk.setUp(true));
        }
      }
      case 10, 11 -> {
        // An admin's (or a stopping node's) transfer of leadership, asked of the controller.
        for (SimNode m : nodes.values()) {
          if (m.controlling()) {
            m.startHandover(sim.between(0, cfg.shards() - 1));
          }
        }
      }
      default -> throw new IllegalStateException();
    }
    sim.after(sim.between(20, cfg.faultGapMax()), this::faultLoop);
  }

  /**
   * A disk is lost only where another in-sync member remains: losing the last copy of a shard
   * leaves it offline by design (no unclean election without an admin), which is not what
   * these runs check.
   */
  private boolean wipeSafe(SimNode n) {
    for (int s : shardsOf(n.id)) {
      ShardState st = zk.peek(s);
      if (st.inSync(n.id) && st.isr().size() < 2) {
        return false;
      }
    }
    return true;
  }
}
