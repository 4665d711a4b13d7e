package dev.dedupe.server.cluster;

import dev.dedupe.server.moves.DrainPlanner;
import dev.dedupe.server.moves.MoveRefusedException;
import dev.dedupe.server.moves.PlacementView;
import dev.dedupe.server.moves.Plan;
import dev.dedupe.server.moves.PlanAdmin;
import dev.dedupe.server.moves.PlanIds;
import dev.dedupe.server.moves.PlanJson;
import dev.dedupe.server.moves.PlanKind;
import dev.dedupe.server.moves.PlannedStep;
import dev.dedupe.server.moves.RebalancePlanner;
import java.time.InstantSource;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;

/**
 * Plans as any node's admin API sees them: a drain, decommission or rebalance is planned
 * against the cluster as read now and refused before anything is created when it cannot be
 * done; otherwise it is written as a plan with its jobs, which only the controller starts. A
 * cancel sets the plan's flag at the version read. None of these is fenced by the controller
 * epoch: they are requests (as {@link ZkMoveAdmin}'s are), and only the controller acts.
 */
final class ZkPlanAdmin implements PlanAdmin {

  private static final String MAX_CONCURRENT = "max_concurrent";

  private final Supplier<CuratorFramework> zk;
  private final ClusterPaths paths;
  private final InstantSource clock;

  ZkPlanAdmin(Supplier<CuratorFramework> zk, ClusterPaths paths, InstantSource clock) {
    this.zk = zk;
    this.paths = paths;
    this.clock = clock;
  }

  @Override
  public Planned drain(String node, int maxConcurrent) {
    return empty(node, maxConcurrent, PlanKind.DRAIN);
  }

  @Override
  public Planned decommission(String node, int maxConcurrent) {
    return empty(node, maxConcurrent, PlanKind.DECOMMISSION);
  }

  /** A drain or a decommission: mark the node drained, then plan its emptying. */
  private Planned empty(String node, int maxConcurrent, PlanKind kind) {
    checkConcurrency(maxConcurrent);
    String what = kind == PlanKind.DRAIN ? "drain" : "decommission";
    return call("cannot " + what + " " + node, () -> {
      CuratorFramework client = client();
      if (ClusterState.decommissionedNodes(client, paths).contains(node)) {
        throw MoveRefusedException.precondition("node " + node + " is decommissioned already");
      }
      for (Plans.Versioned v : Plans.readAll(client, paths)) {
        Plan p = v.plan();
        if (p.running() && p.node().equals(node)) {
          throw MoveRefusedException.precondition("plan " + p.describe() + " runs on node "
              + node + " already; wait for it ('bin/dedupe admin plans') or cancel it"
              + " ('bin/dedupe admin cancel-plan " + p.id() + "')");
        }
      }
      PlacementView read = view(client);
      Set<String> drained = new HashSet<>(read.drained());
      drained.add(node); // it is drained from now on: never a target of its own drain
      PlacementView view = new PlacementView(read.shards(), read.liveZones(),
          read.liveStores(), drained);
      List<PlannedStep> steps = DrainPlanner.plan(view, node, true, what);
      try {
        client.create().creatingParentsIfNeeded().forPath(paths.drained(node));
      } catch (KeeperException.NodeExistsException already) {
        // Drained before (a drain that finished, or one whose plan was cancelled).
      }
      Plans.PlanAdminResult created = Plans.create(client, paths,
          Plan.requested(kind, node, maxConcurrent, steps, clock.millis()), clock.millis());
      return new Planned(created.plan(), created.jobs(), null);
    });
  }

  @Override
  public Optional<Plan> undrain(String node) {
    if (node == null || node.isBlank()) {
      throw MoveRefusedException.invalid(DrainPlanner.NODE, "node_id is required: the node to"
          + " undrain");
    }
    return call("cannot undrain " + node, () -> {
      CuratorFramework client = client();
      Optional<Plan> cancelled = Optional.empty();
      for (Plans.Versioned v : Plans.readAll(client, paths)) {
        Plan p = v.plan();
        if (p.running() && p.node().equals(node)
            && (p.kind() == PlanKind.DRAIN || p.kind() == PlanKind.DECOMMISSION)) {
          cancelled = Optional.of(cancel(p.id()));
        }
      }
      try {
        client.delete().forPath(paths.drained(node));
      } catch (KeeperException.NoNodeException notDrained) {
        if (cancelled.isEmpty()) {
          throw MoveRefusedException.precondition("node " + node + " is not drained"
              + " (drained: " + ClusterState.drainedNodes(client, paths) + ")");
        }
      }
      return cancelled;
    });
  }

  @Override
  public Planned rebalance(boolean dryRun, int maxConcurrent) {
    checkConcurrency(maxConcurrent);
    return call("cannot plan a rebalance", () -> {
      CuratorFramework client = client();
      if (!dryRun) {
        for (Plans.Versioned v : Plans.readAll(client, paths)) {
          Plan p = v.plan();
          if (p.running() && p.kind() != PlanKind.HEAL) {
            throw MoveRefusedException.precondition("plan " + p.describe() + " is running;"
                + " a rebalance now would plan against replicas about to move. Wait for it"
                + " ('bin/dedupe admin plans') or cancel it ('bin/dedupe admin cancel-plan "
                + p.id() + "')");
          }
        }
      }
      RebalancePlanner.Result computed = RebalancePlanner.plan(view(client));
      if (dryRun || computed.steps().isEmpty()) {
        return new Planned(null, List.of(), computed);
      }
      Plans.PlanAdminResult created = Plans.create(client, paths, Plan.requested(
          PlanKind.REBALANCE, "", maxConcurrent, computed.steps(), clock.millis()),
          clock.millis());
      return new Planned(created.plan(), created.jobs(), computed);
    });
  }

  @Override
  public List<Plan> list() {
    return call("cannot read the plans", () -> Plans.readAll(client(), paths).stream()
        .map(Plans.Versioned::plan).toList());
  }

  @Override
  public Plan cancel(String id) {
    if (!PlanIds.valid(id)) {
      throw MoveRefusedException.invalid("plan_id", "plan_id must look like p-000007, was '"
          + id + "'");
    }
    return call("cannot cancel " + id, () -> {
      CuratorFramework client = client();
      while (true) {
        Plans.Versioned read = Plans.read(client, paths, id).orElseThrow(() ->
            new MoveRefusedException(MoveRefusedException.Reason.NOT_FOUND, "plan_id", "no plan "
                + id + " (finished plans are kept for the last " + PlanDriver.FINISHED_KEPT
                + " only)"));
        Plan plan = read.plan();
        if (!plan.running()) {
          throw MoveRefusedException.precondition(id + " has already finished ("
              + plan.state() + "); nothing to cancel");
        }
        if (!plan.ready()) {
          throw MoveRefusedException.precondition(id + " is still being created; try again");
        }
        if (plan.cancelRequested()) {
          return plan;
        }
        Plan next = plan.withCancelRequested(clock.millis());
        try {
          client.setData().withVersion(read.version())
              .forPath(paths.plan(id), PlanJson.toJson(next));
          return next;
        } catch (KeeperException.BadVersionException changed) {
          // The controller moved it on meanwhile: decide again on what it wrote.
        }
      }
    });
  }

  private PlacementView view(CuratorFramework client) throws Exception {
    return Plans.view(client, paths).orElseThrow(() -> MoveRefusedException.precondition(
        "the cluster has not formed yet: no shard has replicas to move"));
  }

  private static void checkConcurrency(int maxConcurrent) {
    if (maxConcurrent < Plan.MIN_CONCURRENT || maxConcurrent > Plan.MAX_CONCURRENT) {
      throw MoveRefusedException.invalid(MAX_CONCURRENT, "max_concurrent must be "
          + Plan.MIN_CONCURRENT + " to " + Plan.MAX_CONCURRENT + ", was " + maxConcurrent);
    }
  }

  private interface ZkCall<T> {
    T run() throws Exception;
  }

  private static <T> T call(String what, ZkCall<T> call) {
    try {
      return call.run();
    } catch (MoveRefusedException e) {
      throw e;
    } catch (Exception e) {
      throw MoveRefusedException.unavailable(what + ": ZooKeeper failed: " + e.getMessage(), e);
    }
  }

  private CuratorFramework client() {
    CuratorFramework client = zk.get();
    if (client == null) {
      throw MoveRefusedException.unavailable("this node has not joined its cluster yet; try"
          + " again", null);
    }
    return client;
  }
}
