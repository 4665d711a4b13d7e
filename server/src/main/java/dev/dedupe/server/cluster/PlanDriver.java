package dev.dedupe.server.cluster;

import dev.dedupe.server.moves.DeadNodeClock;
import dev.dedupe.server.moves.DrainPlanner;
import dev.dedupe.server.moves.MoveJob;
import dev.dedupe.server.moves.MoveJobJson;
import dev.dedupe.server.moves.MovePhase;
import dev.dedupe.server.moves.MoveRefusedException;
import dev.dedupe.server.moves.PlacementView;
import dev.dedupe.server.moves.Plan;
import dev.dedupe.server.moves.PlanJson;
import dev.dedupe.server.moves.PlanKind;
import dev.dedupe.server.moves.PlanProgress;
import dev.dedupe.server.moves.PlannedStep;
import dev.dedupe.server.replication.ShardState;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller's part of plans: on each pass, before the {@link MoveDriver}'s, runs
 * {@link PlanProgress} for every plan and writes what it decides (jobs failed or cancelled
 * before they start, the plan's summary and end, a decommission mark), each write one
 * transaction that checks the controller epoch and names the version read; and it tells the
 * move driver which pending plan jobs may start ({@link #gate}). It also creates HEAL plans for
 * nodes gone longer than {@code cluster.replace-dead-node-after.seconds}
 * ({@link DeadNodeClock}). Keeps the newest {@link #FINISHED_KEPT} finished plans.
 *
 * <p>Threads: {@link #advance} and {@link #heal} run on the controller's event thread only.
 */
final class PlanDriver {

  private static final Logger log = LoggerFactory.getLogger(PlanDriver.class);

  /** Finished plans kept for {@code admin plans}; older ones are deleted. */
  static final int FINISHED_KEPT = 100;

  private final CuratorFramework zk;
  private final ClusterPaths paths;
  private final String nodeId;
  private final InstantSource clock;
  /** {@code cluster.replace-dead-node-after.seconds}; zero never heals. */
  private volatile Duration replaceDeadNodeAfter = Duration.ZERO;
  private final DeadNodeClock deadNodes = new DeadNodeClock();
  /** Nodes whose heal was refused (nowhere to go), so that the refusal is logged once. */
  private final Set<String> healRefused = new HashSet<>();
  /** Pending plan jobs that the last pass let start; written and read on the controller thread. */
  private volatile Set<String> admitted = Set.of();

  PlanDriver(CuratorFramework zk, ClusterPaths paths, String nodeId, InstantSource clock) {
    this.zk = zk;
    this.paths = paths;
    this.nodeId = nodeId;
    this.clock = clock;
  }

  void setReplaceDeadNodeAfter(Duration after) {
    this.replaceDeadNodeAfter = java.util.Objects.requireNonNull(after, "after");
  }

  /**
   * Which jobs the move driver may step: every job outside a plan, every job past PENDING or
   * asked to cancel, and the pending plan jobs the last {@link #advance} let start.
   */
  Predicate<MoveJob> gate() {
    return job -> job.planId().isEmpty() || job.phase() != MovePhase.PENDING
        || job.cancelRequested() || admitted.contains(job.id());
  }

  /**
   * One pass over every plan. Controller thread only.
   *
   * @return whether some plan still runs
   * @throws NotControllerException if another controller took over since {@code myEpoch}
   */
  boolean advance(long myEpoch) throws Exception {
    List<Plans.Versioned> plans = Plans.readAll(zk, paths);
    Set<String> nextAdmitted = new HashSet<>();
    boolean anyRunning = false;
    List<MoveJobs.Versioned> jobs = plans.stream().anyMatch(v -> v.plan().running())
        ? MoveJobs.readAll(zk, paths) : List.of();
    if (!jobs.isEmpty() || plans.stream().anyMatch(v -> v.plan().running())) {
      Map<Integer, ShardState> shards = ClusterState.readShardStates(zk, paths)
          .map(ShardStates::states).orElse(Map.of());
      Set<String> drained = ClusterState.drainedNodes(zk, paths);
      List<MoveJob> running = jobs.stream().map(MoveJobs.Versioned::job)
          .filter(MoveJob::running).toList();
      Map<String, List<MoveJobs.Versioned>> byPlan = new HashMap<>();
      jobs.forEach(v -> byPlan.computeIfAbsent(v.job().planId(), p -> new ArrayList<>()).add(v));
      for (Plans.Versioned v : plans) {
        List<MoveJobs.Versioned> mine = byPlan.getOrDefault(v.plan().id(), List.of());
        if (!v.plan().running() && mine.stream().noneMatch(j -> j.job().running())) {
          continue;
        }
        PlanProgress.Decision d = PlanProgress.next(v.plan(),
            mine.stream().map(MoveJobs.Versioned::job).toList(), shards, drained, running,
            clock.millis());
        Map<String, Integer> versions = new HashMap<>();
        mine.forEach(j -> versions.put(j.job().id(), j.version()));
        for (MoveJob w : d.jobWrites()) {
          writeJob(myEpoch, w, versions.get(w.id()));
        }
        if (!d.plan().equals(v.plan()) || d.decommission()) {
          writePlan(myEpoch, v, d.plan(), d.decommission());
        }
        nextAdmitted.addAll(d.admitted());
        anyRunning |= d.plan().running();
      }
    }
    admitted = Set.copyOf(nextAdmitted);
    prune(myEpoch, plans);
    return anyRunning;
  }

  /**
   * Notes which nodes holding replicas are gone and creates a HEAL plan for each one gone
   * longer than the setting. Controller thread only.
   *
   * @return milliseconds until the next node becomes due, or -1 if none is counting
   */
  long heal(long myEpoch, ShardStates states, Map<String, NodeRegistration> live)
      throws Exception {
    if (replaceDeadNodeAfter.isZero()) {
      return -1;
    }
    Set<String> holding = new HashSet<>();
    states.states().values().forEach(s -> holding.addAll(s.replicas()));
    long now = System.nanoTime();
    long after = replaceDeadNodeAfter.toNanos();
    List<String> due = deadNodes.observe(holding, live.keySet(), now, after);
    healRefused.retainAll(due);
    if (!due.isEmpty()) {
      List<Plan> running = Plans.readAll(zk, paths).stream().map(Plans.Versioned::plan)
          .filter(Plan::running).toList();
      Set<String> decommissioned = ClusterState.decommissionedNodes(zk, paths);
      for (String node : due) {
        if (decommissioned.contains(node)
            || running.stream().anyMatch(p -> p.node().equals(node))) {
          continue; // its own plan (a drain, a heal) is moving its replicas already
        }
        startHeal(myEpoch, node, Plans.view(states, live, ClusterState.drainedNodes(zk, paths)));
      }
    }
    long next = deadNodes.nanosUntilNext(now, after);
    return next < 0 ? -1 : Math.max(1, next / 1_000_000);
  }

  /** Forgets when nodes went: a controller that is elected again counts anew. */
  void resetDeadNodeClock() {
    deadNodes.reset();
    healRefused.clear();
  }

  private void startHeal(long myEpoch, String node, PlacementView view) throws Exception {
    List<PlannedStep> steps;
    try {
      steps = DrainPlanner.plan(view, node, false, "heal");
    } catch (MoveRefusedException e) {
      if (healRefused.add(node)) {
        log.warn("node {}: node {} has been gone longer than {} s, but its replicas cannot be"
            + " rebuilt elsewhere: {}", nodeId, node, replaceDeadNodeAfter.toSeconds(),
            e.getMessage());
      }
      return;
    }
    if (steps.isEmpty()) {
      return;
    }
    // A request, as an admin's is: checked against this controller's epoch just before, so
    // that a deposed controller does not plan a heal its successor also plans.
    FencedTransaction.Failure fenced = FencedTransaction.commit(zk,
        List.of(FencedTransaction.epochCheck(zk, paths, myEpoch)));
    if (fenced != null) {
      throw new NotControllerException(myEpoch, "a heal plan for node " + node);
    }
    Plans.PlanAdminResult created = Plans.create(zk, paths, Plan.requested(PlanKind.HEAL, node,
        Plan.DEFAULT_CONCURRENT, steps, clock.millis()), clock.millis());
    log.info("node {}: node {} has been gone longer than {} s: heal plan {} rebuilds its {}"
        + " replicas elsewhere", nodeId, node, replaceDeadNodeAfter.toSeconds(),
        created.plan().id(), steps.size());
  }

  private void writeJob(long myEpoch, MoveJob next, Integer version) throws Exception {
    if (version == null) {
      return;
    }
    FencedTransaction.Failure failed = FencedTransaction.commit(zk, List.of(
        FencedTransaction.epochCheck(zk, paths, myEpoch),
        zk.transactionOp().setData().withVersion(version)
            .forPath(paths.move(next.id()), MoveJobJson.toJson(next))));
    if (failed != null && failed.op() == 0) {
      throw new NotControllerException(myEpoch, "a plan's write of move " + next.id());
    }
    if (failed == null) {
      log.info("node {}: plan {}: {} {}{}", nodeId, next.planId(), next.describe(),
          next.running() ? "asked to cancel" : next.state(),
          next.lastError().isEmpty() ? "" : " (" + next.lastError() + ")");
    }
  }

  private void writePlan(long myEpoch, Plans.Versioned read, Plan next, boolean decommission)
      throws Exception {
    List<CuratorOp> ops = new ArrayList<>();
    ops.add(FencedTransaction.epochCheck(zk, paths, myEpoch));
    ops.add(zk.transactionOp().setData().withVersion(read.version())
        .forPath(paths.plan(next.id()), PlanJson.toJson(next)));
    if (decommission) {
      if (zk.checkExists().forPath(paths.decommissioned()) == null) {
        try {
          zk.create().creatingParentsIfNeeded().forPath(paths.decommissioned());
        } catch (KeeperException.NodeExistsException raced) {
          // Made meanwhile: fine.
        }
      }
      if (zk.checkExists().forPath(paths.decommissioned(next.node())) == null) {
        ops.add(zk.transactionOp().create().withMode(CreateMode.PERSISTENT)
            .forPath(paths.decommissioned(next.node()), new byte[0]));
      }
    }
    FencedTransaction.Failure failed = FencedTransaction.commit(zk, ops);
    if (failed != null && failed.op() == 0) {
      throw new NotControllerException(myEpoch, "a write of plan " + next.id());
    }
    if (failed == null && !next.running()) {
      log.info("node {}: plan {} finished {}: {}", nodeId, next.describe(), next.state(),
          next.note());
    }
  }

  private void prune(long myEpoch, List<Plans.Versioned> plans) throws Exception {
    List<Plans.Versioned> finished = plans.stream().filter(v -> !v.plan().running()).toList();
    for (int i = 0; i < finished.size() - FINISHED_KEPT; i++) {
      Plans.Versioned old = finished.get(i);
      FencedTransaction.Failure failed = FencedTransaction.commit(zk, List.of(
          FencedTransaction.epochCheck(zk, paths, myEpoch),
          zk.transactionOp().delete().withVersion(old.version())
              .forPath(paths.plan(old.plan().id()))));
      if (failed != null && failed.op() == 0) {
        throw new NotControllerException(myEpoch, "the deletion of finished plan "
            + old.plan().id());
      }
    }
  }

}
