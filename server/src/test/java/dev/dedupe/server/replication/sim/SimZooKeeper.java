package dev.dedupe.server.replication.sim;

import dev.dedupe.server.replication.ShardState;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Simulated ZooKeeper: one znode per shard (a {@link ShardState} and its version, written only
 * conditionally), sessions that expire when not heard from for the session timeout (with each
 * session's ephemeral "live" registration: the store id of each shard the node has open), and
 * the controller latch with its fencing epoch. Calls are instantaneous but fail when ZooKeeper
 * is down or the caller is cut off from it.
 */
public final class SimZooKeeper {

  /** A znode read: the state and its version. */
  public record Versioned(ShardState state, int version) {}

  private static final class Session {
    final long id;
    long lastSeen;
    final Map<Integer, String> stores;

    Session(long id, long lastSeen, Map<Integer, String> stores) {
      this.id = id;
      this.lastSeen = lastSeen;
      this.stores = new TreeMap<>(stores);
    }
  }

  private final Sim sim;
  final long sessionTimeout;
  private final TreeMap<Integer, Versioned> znodes = new TreeMap<>();
  private final TreeMap<String, Session> sessions = new TreeMap<>();
  private final TreeSet<String> cutOff = new TreeSet<>();
  private boolean up = true;
  private long nextSession = 1;
  private String controller;
  private long controllerSession;
  private long controllerEpoch;

  SimZooKeeper(Sim sim, long sessionTimeout) {
    this.sim = sim;
    this.sessionTimeout = sessionTimeout;
  }

  void create(ShardState s) {
    znodes.put(s.shard(), new Versioned(s, 0));
  }

  // --- faults ---

  boolean up() {
    return up;
  }

  void setUp(boolean value) {
    if (value && !up) {
      // A ZooKeeper quorum that comes back restarts its session timers.
      for (Session s : sessions.values()) {
        s.lastSeen = sim.now();
      }
    }
    up = value;
    sim.trace("zk " + (value ? "UP" : "DOWN"));
  }

  void cut(String node, boolean value) {
    if (value) {
      cutOff.add(node);
    } else {
      cutOff.remove(node);
    }
    sim.trace("zk<->" + node + (value ? " CUT" : " healed"));
  }

  void healAll() {
    cutOff.clear();
    setUp(true);
  }

  boolean reachable(String node) {
    return up && !cutOff.contains(node);
  }

  /** Expires sessions not heard from within the timeout (only while ZooKeeper runs). */
  void expire() {
    if (!up) {
      return;
    }
    var it = sessions.entrySet().iterator();
    while (it.hasNext()) {
      var e = it.next();
      if (sim.now() - e.getValue().lastSeen > sessionTimeout) {
        sim.trace("zk session of " + e.getKey() + " EXPIRED");
        if (e.getValue().id == controllerSession) {
          controller = null;
        }
        it.remove();
      }
    }
  }

  // --- sessions ---

  /** A new session for {@code node} with its live registration; replaces an older one. 0 if unreachable. */
  long openSession(String node, Map<Integer, String> stores) {
    if (!reachable(node)) {
      return 0;
    }
    expire();
    Session old = sessions.get(node);
    if (old != null && old.id == controllerSession) {
      controller = null;
    }
    long id = nextSession++;
    sessions.put(node, new Session(id, sim.now(), stores));
    sim.trace("zk " + node + " session " + id + " live " + stores);
    return id;
  }

  enum Beat { OK, EXPIRED, UNREACHABLE }

  Beat heartbeat(String node, long session) {
    if (!reachable(node)) {
      return Beat.UNREACHABLE;
    }
    expire();
    Session s = sessions.get(node);
    if (s == null || s.id != session) {
      return Beat.EXPIRED;
    }
    s.lastSeen = sim.now();
    return Beat.OK;
  }

  boolean valid(String node, long session) {
    if (!reachable(node)) {
      return false;
    }
    expire();
    Session s = sessions.get(node);
    return s != null && s.id == session;
  }

  /** The nodes with a live session (registered), whatever they have open. */
  java.util.Set<String> registered() {
    return new java.util.TreeSet<>(sessions.keySet());
  }

  /** For each live node with {@code shard} open, its store id. */
  Map<String, String> liveStores(int shard) {
    Map<String, String> out = new TreeMap<>();
    for (var e : sessions.entrySet()) {
      String store = e.getValue().stores.get(shard);
      if (store != null) {
        out.put(e.getKey(), store);
      }
    }
    return out;
  }

  // --- znodes ---

  /** The shard's znode, or null if the caller cannot read it now. */
  Versioned read(String node, long session, int shard) {
    return valid(node, session) ? znodes.get(shard) : null;
  }

  /** The znode as the simulation sees it (for routing clients and for the checks). */
  ShardState peek(int shard) {
    return znodes.get(shard).state();
  }

  /** A leader's conditional write of its in-sync set: only on {@code version}. */
  boolean writeAsLeader(String node, long session, int expectedVersion, ShardState next) {
    if (!valid(node, session)) {
      return false;
    }
    Versioned cur = znodes.get(next.shard());
    if (cur.version() != expectedVersion || !cur.state().isLeader(node)
        || cur.state().epoch() != next.epoch() || !next.isLeader(node)) {
      return false;
    }
    znodes.put(next.shard(), new Versioned(next, expectedVersion + 1));
    sim.trace("zk write by leader " + node + ": " + brief(next));
    return true;
  }

  // --- controller ---

  /** Claims the controller latch if free; returns the controller epoch, or 0. */
  long claimController(String node, long session) {
    if (!valid(node, session)) {
      return 0;
    }
    if (controller != null) {
      return controller.equals(node) && controllerSession == session ? controllerEpoch : 0;
    }
    controller = node;
    controllerSession = session;
    controllerEpoch++;
    sim.trace("zk controller " + node + " epoch " + controllerEpoch);
    return controllerEpoch;
  }

  /** A controller's conditional write: only on {@code version} and at its controller epoch. */
  boolean writeAsController(String node, long session, long ctrlEpoch, int expectedVersion,
      ShardState next) {
    if (!valid(node, session) || ctrlEpoch != controllerEpoch || !node.equals(controller)) {
      return false;
    }
    Versioned cur = znodes.get(next.shard());
    if (cur.version() != expectedVersion) {
      return false;
    }
    znodes.put(next.shard(), new Versioned(next, expectedVersion + 1));
    sim.trace("zk write by controller " + node + ": " + brief(next));
    return true;
  }

  static String brief(ShardState s) {
    return "shard " + s.shard() + " leader '" + s.leader() + "' epoch " + s.epoch() + " isr " + s.isr();
  }
}
