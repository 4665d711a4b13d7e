package dev.dedupe.server.cluster;

import dev.dedupe.server.moves.MoveJob;
import dev.dedupe.server.moves.PlacementView;
import dev.dedupe.server.moves.Plan;
import dev.dedupe.server.moves.PlanIds;
import dev.dedupe.server.moves.PlanJson;
import dev.dedupe.server.moves.PlannedStep;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * Reads and creations of plan znodes ({@code plans/}), shared by the admin API and the
 * controller, and the cluster as the planners see it.
 */
final class Plans {

  /** A plan with the znode version it was read at. */
  record Versioned(Plan plan, int version) {}

  private Plans() {}

  /**
   * Creates {@code plan} (not ready), then one job per step in order, then marks it ready: the
   * controller starts none of its jobs before. A creator that stops midway leaves a plan that is
   * never ready; the controller gives it up ({@code PlanProgress.READY_TIMEOUT_MILLIS}).
   *
   * @return the plan as written (ready) and its jobs, in step order
   */
  static PlanAdminResult create(CuratorFramework zk, ClusterPaths paths, Plan plan, long nowMillis)
      throws Exception {
    String created = zk.create().creatingParentsIfNeeded()
        .withMode(CreateMode.PERSISTENT_SEQUENTIAL)
        .forPath(paths.plans() + "/" + PlanIds.ZNODE_PREFIX, PlanJson.toJson(plan));
    Plan withId = plan.withId(PlanIds.fromZnodeName(created.substring(created.lastIndexOf('/') + 1)));
    List<MoveJob> jobs = new ArrayList<>();
    for (PlannedStep step : plan.steps()) {
      jobs.add(MoveJobs.create(zk, paths, MoveJob.requested(step.kind(), step.shard(),
          step.from(), step.to(), withId.id(), nowMillis)));
    }
    Plan ready = withId.asReady(nowMillis);
    // Nobody else writes a plan before it is ready (the controller skips it, a cancel is
    // refused), so this unconditional write cannot cross another.
    zk.setData().forPath(paths.plan(ready.id()), PlanJson.toJson(ready));
    return new PlanAdminResult(ready, jobs);
  }

  /** A plan just created, with its jobs. */
  record PlanAdminResult(Plan plan, List<MoveJob> jobs) {}

  /** Every plan, oldest first. */
  static List<Versioned> readAll(CuratorFramework zk, ClusterPaths paths) throws Exception {
    List<String> children;
    try {
      children = zk.getChildren().forPath(paths.plans());
    } catch (KeeperException.NoNodeException none) {
      return List.of();
    }
    List<Versioned> plans = new ArrayList<>();
    for (String child : children) {
      if (PlanIds.valid(child)) {
        read(zk, paths, PlanIds.fromZnodeName(child)).ifPresent(plans::add);
      }
    }
    plans.sort(Comparator.comparingLong(v -> PlanIds.sequence(v.plan().id())));
    return plans;
  }

  /** One plan, or empty if there is none with that id. */
  static Optional<Versioned> read(CuratorFramework zk, ClusterPaths paths, String id)
      throws Exception {
    Stat stat = new Stat();
    try {
      byte[] data = zk.getData().storingStatIn(stat).forPath(paths.plan(id));
      return Optional.of(new Versioned(PlanJson.fromJson(id, data), stat.getVersion()));
    } catch (KeeperException.NoNodeException gone) {
      return Optional.empty();
    }
  }

  /** The cluster as the planners see it, or empty before it formed. */
  static Optional<PlacementView> view(CuratorFramework zk, ClusterPaths paths) throws Exception {
    Optional<ShardStates> states = ClusterState.readShardStates(zk, paths);
    if (states.isEmpty()) {
      return Optional.empty();
    }
    Map<String, NodeRegistration> live = ClusterState.liveRegistrations(zk, paths);
    return Optional.of(view(states.get(), live, ClusterState.drainedNodes(zk, paths)));
  }

  static PlacementView view(ShardStates states, Map<String, NodeRegistration> live,
      java.util.Set<String> drained) {
    return ClusterState.placementView(states.states(), live, drained);
  }
}
