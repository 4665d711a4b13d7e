package dev.dedupe.server.cli;

import dev.dedupe.server.cluster.ClusterState;
import dev.dedupe.server.cluster.NodeRegistration;
import dev.dedupe.server.moves.MoveJob;
import dev.dedupe.server.moves.MoveKind;
import dev.dedupe.server.moves.MovePhase;
import dev.dedupe.server.moves.Plan;
import dev.dedupe.server.moves.PlannedStep;
import dev.dedupe.server.moves.RebalancePlanner;
import dev.dedupe.server.replication.LeaderElection;
import dev.dedupe.server.replication.ShardState;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What {@code admin status} shows, made from a {@link StatusReading}: each node with its counts
 * and what an admin must know of it, each shard with whether it is ok, and what is going on in
 * the cluster as a whole. Immutable; {@link StatusReport} prints it.
 *
 * @param cluster the cluster's name
 * @param zk the ZooKeeper address it was read from
 * @param controller the controller's node id, or empty before one is elected
 * @param controllerEpoch the controller epoch; 0 without a controller
 * @param nodes the nodes that are live, hold a replica or are drained, sorted by id
 * @param shards every shard, by shard; empty before the cluster formed
 * @param decommissionedGone decommissioned nodes that are neither live nor hold a replica: gone
 *     for good, listed only by name
 * @param movesRunning move jobs running, a plan's included: as {@code admin moves} counts them,
 *     those not started yet included
 * @param movesPending of those, the ones not started yet (a plan's jobs wait for their turn)
 * @param plansRunning the running plans, described ("p-000007 (drain of node-2)")
 * @param throttleBytesPerSecond the copy throttle in force, if one is set
 * @param rebalanceMoves replica moves {@code admin rebalance} would plan now
 * @param rebalanceTransfers leadership transfers {@code admin rebalance} would plan now
 */
record ClusterStatus(String cluster, String zk, Optional<String> controller, int controllerEpoch,
    List<Node> nodes, List<Shard> shards, SortedSet<String> decommissionedGone,
    int movesRunning, int movesPending, List<String> plansRunning, OptionalLong throttleBytesPerSecond,
    int rebalanceMoves, int rebalanceTransfers) {

  /** What the node table's FLAGS column says of a node, in the order it says it. */
  enum Flag {
    /** Not registered: it holds replicas (or is drained) but is not running. */
    DOWN("DOWN"),
    /** Registered and stopping: it hands its leaderships over. */
    STOPPING("stopping"),
    /** Decommissioned: it leaves (or has left) the cluster for good. Not also called drained. */
    DECOMMISSIONED("decommissioned"),
    /** Marked drained: it gets no new replica or leadership. */
    DRAINED("drained"),
    /**
     * Live, not drained and holding no replica, and a rebalance would give it some: a node
     * that joins a formed cluster is empty until a rebalance.
     */
    EMPTY_UNTIL_REBALANCE("empty: run 'admin rebalance'"),
    /** Live, not drained, holding no replica, and a rebalance would give it none either. */
    EMPTY("empty: a rebalance gives it nothing");

    final String label;

    Flag(String label) {
      this.label = label;
    }
  }

  /**
   * One node's row.
   *
   * @param grpc its API address, or "-" when it is not live
   * @param zone its zone, or "-" for none or not live
   * @param health READY, NOT READY or UNREACHABLE (its ops port), or "-" when it is not live
   * @param leads the shards it leads now
   * @param replicaOf the shards it holds a replica of
   * @param preferred how many shards have it as first replica: the leader the controller's
   *     leader balance returns the shard to
   */
  record Node(String id, String grpc, String zone, String health, List<Integer> leads,
      List<Integer> replicaOf, int preferred, List<Flag> flags) {

    Node {
      leads = List.copyOf(leads);
      replicaOf = List.copyOf(replicaOf);
      flags = List.copyOf(flags);
    }

    int replicas() {
      return replicaOf.size();
    }

    int leaders() {
      return leads.size();
    }
  }

  /** Whether a shard serves, and with all its copies. */
  enum ShardHealth { OK, UNDER_REPLICATED, OFFLINE }

  /**
   * One shard's row.
   *
   * @param leader its leader, or "" when it has none (offline)
   * @param replicas its replicas, preferred leader first
   * @param inSync its in-sync replicas, in replica order
   * @param note what the node table cannot show (a leader that is down, data lost), or ""
   */
  record Shard(int shard, String leader, long epoch, List<String> replicas, List<String> inSync,
      ShardHealth health, String note) {

    Shard {
      replicas = List.copyOf(replicas);
      inSync = List.copyOf(inSync);
    }
  }

  ClusterStatus {
    nodes = List.copyOf(nodes);
    shards = List.copyOf(shards);
    decommissionedGone = java.util.Collections.unmodifiableSortedSet(
        new TreeSet<>(decommissionedGone));
    plansRunning = List.copyOf(plansRunning);
  }

  /** Whether the cluster has formed: its shards exist. */
  boolean formed() {
    return !shards.isEmpty();
  }

  long count(ShardHealth health) {
    return shards.stream().filter(s -> s.health() == health).count();
  }

  /** Whether a rebalance would plan anything: exactly when {@code rebalance --dry-run} would. */
  boolean unbalanced() {
    return rebalanceMoves + rebalanceTransfers > 0;
  }

  /**
   * Derives the status from what was read. Whether the cluster is unbalanced is asked of
   * {@link RebalancePlanner} on the view {@code admin rebalance} plans on, so that status and
   * {@code rebalance --dry-run} never disagree.
   */
  static ClusterStatus of(StatusReading r) {
    Map<Integer, ShardState> states = r.shards();
    SortedSet<String> ids = new TreeSet<>(r.live().keySet());
    states.values().forEach(s -> ids.addAll(s.replicas()));
    ids.addAll(r.drained());
    SortedSet<String> gone = new TreeSet<>(r.decommissioned());
    gone.removeAll(ids);

    Optional<RebalancePlanner.Result> rebalance = states.isEmpty() ? Optional.empty()
        : Optional.of(RebalancePlanner.plan(
            ClusterState.placementView(states, r.live(), r.drained())));
    List<PlannedStep> steps = rebalance.map(RebalancePlanner.Result::steps).orElse(List.of());
    Map<String, RebalancePlanner.Counts> after = rebalance.map(RebalancePlanner.Result::after)
        .orElse(Map.of());

    List<Node> nodes = new ArrayList<>();
    for (String id : ids) {
      NodeRegistration reg = r.live().get(id);
      List<Integer> leads = new ArrayList<>();
      List<Integer> holds = new ArrayList<>();
      int preferred = 0;
      for (ShardState s : states.values()) {
        if (s.isLeader(id)) {
          leads.add(s.shard());
        }
        if (s.replicas().contains(id)) {
          holds.add(s.shard());
        }
        if (s.replicas().get(0).equals(id)) {
          preferred++;
        }
      }
      List<Flag> flags = new ArrayList<>();
      if (reg == null) {
        flags.add(Flag.DOWN);
      } else if (reg.stopping()) {
        flags.add(Flag.STOPPING);
      }
      if (r.decommissioned().contains(id)) {
        flags.add(Flag.DECOMMISSIONED);
      } else if (r.drained().contains(id)) {
        flags.add(Flag.DRAINED);
      } else if (reg != null && holds.isEmpty() && !states.isEmpty()) {
        RebalancePlanner.Counts planned = after.get(id);
        flags.add(planned != null && planned.replicas() > 0
            ? Flag.EMPTY_UNTIL_REBALANCE : Flag.EMPTY);
      }
      nodes.add(new Node(id, reg == null ? "-" : reg.grpc(),
          reg == null || reg.zone().isEmpty() ? "-" : reg.zone(),
          reg == null ? "-" : r.health().getOrDefault(id, "UNREACHABLE"),
          leads, holds, preferred, flags));
    }

    List<Shard> shards = new ArrayList<>();
    for (ShardState s : states.values()) {
      ShardHealth health = !s.hasLeader() ? ShardHealth.OFFLINE
          : LeaderElection.fullyReplicated(s) ? ShardHealth.OK : ShardHealth.UNDER_REPLICATED;
      shards.add(new Shard(s.shard(), s.leader(), s.epoch(), s.replicas(),
          s.isrInReplicaOrder(), health,
          health == ShardHealth.OFFLINE ? lost(s, r.live()) : leaderNote(s, r.live())));
    }
    return new ClusterStatus(r.cluster(), r.zk(), r.controller(), r.controllerEpoch(), nodes,
        shards, gone, (int) r.moves().stream().filter(MoveJob::running).count(),
        (int) r.moves().stream().filter(m -> m.running() && m.phase() == MovePhase.PENDING)
            .count(),
        r.plans().stream().filter(Plan::running).map(Plan::describe).toList(),
        r.throttleBytesPerSecond(),
        (int) steps.stream().filter(p -> p.kind() == MoveKind.MOVE).count(),
        (int) steps.stream().filter(p -> p.kind() == MoveKind.TRANSFER_LEADER).count());
  }

  /** For a serving shard: a leader that is down, or whose data is gone. */
  private static String leaderNote(ShardState s, Map<String, NodeRegistration> live) {
    NodeRegistration leader = live.get(s.leader());
    if (leader == null) {
      return "leader DOWN (the controller elects another in-sync replica)";
    }
    String open = leader.stores().get(s.shard());
    String inSync = s.isr().getOrDefault(s.leader(), "");
    if (open != null && !inSync.isEmpty() && !open.equals(inSync)) {
      return "leader's data LOST (it has another store than the one in sync)";
    }
    return "";
  }

  /** For an offline shard: in-sync members that are live but came back with another store. */
  private static String lost(ShardState s, Map<String, NodeRegistration> live) {
    List<String> lost = new ArrayList<>();
    s.isr().forEach((node, store) -> {
      NodeRegistration reg = live.get(node);
      String open = reg == null ? null : reg.stores().get(s.shard());
      if (open != null && !store.isEmpty() && !open.equals(store)) {
        lost.add(node);
      }
    });
    return lost.isEmpty() ? "" : "data LOST on " + lost + " (live with another store):"
        + " restore it, or 'admin elect-unclean'";
  }
}
