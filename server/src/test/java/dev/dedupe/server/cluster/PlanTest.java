package dev.dedupe.server.cluster;

import static dev.dedupe.server.cluster.ClusterFixture.await;
import static dev.dedupe.server.cluster.ClusterFixture.ids;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.admin.v1.CancelPlanRequest;
import dev.dedupe.admin.v1.DecommissionRequest;
import dev.dedupe.admin.v1.DrainRequest;
import dev.dedupe.admin.v1.DrainResponse;
import dev.dedupe.admin.v1.ListMovesRequest;
import dev.dedupe.admin.v1.ListPlansRequest;
import dev.dedupe.admin.v1.Move;
import dev.dedupe.admin.v1.MoveReplicaRequest;
import dev.dedupe.admin.v1.MoveState;
import dev.dedupe.admin.v1.Plan;
import dev.dedupe.admin.v1.PlanKind;
import dev.dedupe.admin.v1.PlanState;
import dev.dedupe.admin.v1.RebalanceRequest;
import dev.dedupe.admin.v1.RebalanceResponse;
import dev.dedupe.admin.v1.TransferLeaderRequest;
import dev.dedupe.admin.v1.UndrainRequest;
import dev.dedupe.admin.v1.UndrainResponse;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.replication.ShardState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Plans on real ZooKeeper, RocksDB and gRPC: a drain held mid-way (its target's replication
 * cut) refuses a rebalance and a second drain and is cancelled; a drain then empties a node
 * while ids are decided, with the history checked; undrain and a rebalance bring it back; a
 * fourth node that joins empty gets replicas and leaderships from a rebalance, then is
 * decommissioned and may not join again; a node gone longer than the setting is healed.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class PlanTest {

  private static final int NODES = 4;
  private static final int SHARDS = 4;

  @TempDir Path dir;

  @Test
  void aDrainHeldMidwayRefusesOthersAndIsCancelledThenADrainEmptiesTheNodeAndUndrainAndRebalanceBringItBack()
      throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, NODES, SHARDS, 3)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      router.decide(0, "before", ids("before-", 300));

      assertRefused(Status.Code.INVALID_ARGUMENT, "no node node-9", () -> cluster.admin(0)
          .drain(DrainRequest.newBuilder().setNodeId("node-9").build()));
      assertRefused(Status.Code.INVALID_ARGUMENT, "max_concurrent must be 1 to 64", () ->
          cluster.admin(0).drain(DrainRequest.newBuilder().setNodeId("node-1")
              .setMaxConcurrent(0).build()));

      // node-1's drain can place replicas only on node-0, node-2 and node-3; with node-3's
      // replication cut, whatever goes to node-3 waits, so the plan stays running.
      cluster.replicationInbound(3).cut();
      DrainResponse held = cluster.admin(0).drain(DrainRequest.newBuilder().setNodeId("node-1")
          .setMaxConcurrent(4).build());
      assertEquals(PlanKind.PLAN_KIND_DRAIN, held.getPlan().getKind());
      assertTrue(held.getPlan().getPlanId().matches("p-\\d{6}"), held.getPlan().getPlanId());
      assertTrue(held.getMovesList().stream().allMatch(m -> m.getPlanId()
          .equals(held.getPlan().getPlanId())));
      assertTrue(held.getMovesList().stream().anyMatch(m -> m.getToNode().equals("node-3")),
          "some replica goes to node-3: " + held.getMovesList());
      assertRefused(Status.Code.FAILED_PRECONDITION, held.getPlan().getPlanId(), () ->
          cluster.admin(2).rebalance(RebalanceRequest.getDefaultInstance()));
      assertRefused(Status.Code.FAILED_PRECONDITION, "runs on node node-1", () ->
          cluster.admin(2).drain(DrainRequest.newBuilder().setNodeId("node-1").build()));
      assertRefused(Status.Code.FAILED_PRECONDITION, "nowhere to go", () ->
          cluster.admin(2).drain(DrainRequest.newBuilder().setNodeId("node-2").build()));
      // A drained node takes no new replica or leadership from an admin either.
      ShardState without = states(cluster).values().stream()
          .filter(s -> !s.replicas().contains("node-1")).findFirst().orElseThrow();
      assertRefused(Status.Code.FAILED_PRECONDITION, "node-1 is drained", () ->
          cluster.admin(2).moveReplica(MoveReplicaRequest.newBuilder()
              .setShard(without.shard()).setFromNode(without.replicas().get(0))
              .setToNode("node-1").build()));
      ShardState with = states(cluster).values().stream()
          .filter(s -> s.replicas().contains("node-1")).findFirst().orElseThrow();
      assertRefused(Status.Code.FAILED_PRECONDITION, "node-1 is drained", () ->
          cluster.admin(2).transferLeader(TransferLeaderRequest.newBuilder()
              .setShard(with.shard()).setToNode("node-1").build()));

      Plan cancelling = cluster.admin(1).cancelPlan(CancelPlanRequest.newBuilder()
          .setPlanId(held.getPlan().getPlanId()).build()).getPlan();
      assertTrue(cancelling.getCancelRequested());
      Plan cancelled = awaitPlan(cluster, held.getPlan().getPlanId(),
          p -> p.getState() != PlanState.PLAN_STATE_RUNNING);
      assertEquals(PlanState.PLAN_STATE_CANCELLED, cancelled.getState(), cancelled.toString());
      assertTrue(cancelled.getJobsCancelled() >= 1, cancelled.toString());
      List<Move> heldJobs = jobsOf(cluster, held.getPlan().getPlanId());
      assertTrue(heldJobs.stream().noneMatch(m -> m.getState() == MoveState.MOVE_STATE_RUNNING));
      await("no shard holds a replica on node-3 that the cancel rolled back", () ->
          states(cluster).values().stream().allMatch(s -> s.replicas().size() == 3));
      cluster.replicationInbound(3).heal();
      cluster.awaitInSync();

      // The drain for real, while ids are decided.
      DrainResponse drain = cluster.admin(0).drain(DrainRequest.newBuilder()
          .setNodeId("node-1").build());
      router.decide(0, "during", ids("during-", 300));
      Plan drained = awaitPlan(cluster, drain.getPlan().getPlanId(),
          p -> p.getState() != PlanState.PLAN_STATE_RUNNING);
      assertEquals(PlanState.PLAN_STATE_DONE, drained.getState(), drained + " jobs "
          + jobsOf(cluster, drain.getPlan().getPlanId()));
      await("node-1 holds no replica", () -> states(cluster).values().stream()
          .noneMatch(s -> s.replicas().contains("node-1")));
      states(cluster).values().forEach(s -> assertEquals(3, s.replicas().size(), s.toString()));
      router.decide(2, "after", ids("after-", 200));
      history.assertInvariants(cluster);

      UndrainResponse undrained = cluster.admin(0).undrain(UndrainRequest.newBuilder()
          .setNodeId("node-1").build());
      assertFalse(undrained.hasCancelledPlan(), "the drain had finished");
      assertRefused(Status.Code.FAILED_PRECONDITION, "is not drained", () -> cluster.admin(0)
          .undrain(UndrainRequest.newBuilder().setNodeId("node-1").build()));
      RebalanceResponse back = cluster.admin(0).rebalance(RebalanceRequest.getDefaultInstance());
      assertTrue(back.hasPlan(), back.toString());
      assertEquals(PlanState.PLAN_STATE_DONE, awaitPlan(cluster, back.getPlan().getPlanId(),
          p -> p.getState() != PlanState.PLAN_STATE_RUNNING).getState());
      await("node-1 holds its share again", () -> states(cluster).values().stream()
          .filter(s -> s.replicas().contains("node-1")).count() == 3);
      router.decide(3, "rebalanced", ids("rebalanced-", 200));
      history.assertInvariants(cluster);
    }
  }

  @Test
  void aNodeThatJoinsEmptyGetsReplicasAndLeadersFromARebalanceThenIsDecommissionedForGood()
      throws Exception {
    try (ClusterFixture cluster = ClusterFixture.withSettings(dir, NODES, SHARDS, 3, 3,
        Map.of("cluster.initial-nodes", "3"))) {
      cluster.awaitServing();
      cluster.awaitInSync();
      cluster.start(3);
      cluster.awaitServing();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      router.decide(0, "before", ids("before-", 200));
      assertTrue(states(cluster).values().stream().noneMatch(s -> s.replicas().contains("node-3")),
          "a node that joins is empty until a rebalance");

      RebalanceResponse dry = cluster.admin(3).rebalance(RebalanceRequest.newBuilder()
          .setDryRun(true).build());
      assertFalse(dry.hasPlan());
      assertTrue(dry.getMovesList().stream().anyMatch(m -> m.getToNode().equals("node-3")),
          dry.toString());
      assertEquals(3, dry.getNodesList().stream().filter(n -> n.getNodeId().equals("node-3"))
          .findFirst().orElseThrow().getReplicasAfter(), dry.toString());
      assertEquals(0, cluster.admin(0).listPlans(ListPlansRequest.getDefaultInstance())
          .getPlansCount(), "a dry run creates nothing");

      RebalanceResponse run = cluster.admin(3).rebalance(RebalanceRequest.newBuilder()
          .setMaxConcurrent(2).build());
      assertEquals(dry.getMovesCount(), run.getMovesCount());
      Plan done = awaitPlan(cluster, run.getPlan().getPlanId(),
          p -> p.getState() != PlanState.PLAN_STATE_RUNNING);
      assertEquals(PlanState.PLAN_STATE_DONE, done.getState(), done.toString());
      await("node-3 holds three replicas and leads a shard", () -> {
        Map<Integer, ShardState> s = states(cluster);
        return s.values().stream().filter(x -> x.replicas().contains("node-3")).count() == 3
            && s.values().stream().anyMatch(x -> x.isLeader("node-3"));
      });
      router.decide(1, "rebalanced", ids("rebalanced-", 200));
      history.assertInvariants(cluster);
      assertEquals(List.of(), cluster.admin(0).rebalance(RebalanceRequest.newBuilder()
          .setDryRun(true).build()).getMovesList(), "balanced now: a rebalance plans nothing");

      Plan decommission = cluster.admin(0).decommission(DecommissionRequest.newBuilder()
          .setNodeId("node-3").build()).getPlan();
      Plan decommissioned = awaitPlan(cluster, decommission.getPlanId(),
          p -> p.getState() != PlanState.PLAN_STATE_RUNNING);
      assertEquals(PlanState.PLAN_STATE_DONE, decommissioned.getState(),
          decommissioned.toString());
      var zk = cluster.node(0).clusterMember().zookeeper();
      assertTrue(ClusterState.decommissionedNodes(zk, ClusterPaths.forCluster(
          ClusterFixture.CLUSTER)).contains("node-3"));
      assertRefused(Status.Code.FAILED_PRECONDITION, "node-3 is decommissioned", () ->
          cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder().setShard(0)
              .setFromNode(states(cluster).get(0).replicas().get(0)).setToNode("node-3")
              .build()));
      assertRefused(Status.Code.FAILED_PRECONDITION, "node-3 is decommissioned", () ->
          cluster.admin(0).transferLeader(TransferLeaderRequest.newBuilder().setShard(0)
              .setToNode("node-3").build()));
      router.decide(0, "decommissioned", ids("decommissioned-", 200));
      history.assertInvariants(cluster);
      cluster.stop(3);
      Exception refused = assertThrows(Exception.class, () -> cluster.start(3));
      assertTrue(causes(refused).contains("was decommissioned"), causes(refused));
    }
  }

  @Test
  void aNodeGoneLongerThanTheSettingIsHealedOntoTheOthers() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.withSettings(dir, NODES, SHARDS, NODES, 3,
        Map.of("cluster.replace-dead-node-after.seconds", "2"))) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      router.decide(0, "before", ids("before-", 200));
      long held = states(cluster).values().stream()
          .filter(s -> s.replicas().contains("node-3")).count();
      assertTrue(held > 0);

      cluster.stop(3);
      await("a heal plan for node-3 finishes", () -> plans(cluster).stream().anyMatch(p ->
          p.getKind() == PlanKind.PLAN_KIND_HEAL && p.getNodeId().equals("node-3")
              && p.getState() != PlanState.PLAN_STATE_RUNNING));
      Plan heal = plans(cluster).stream().filter(p -> p.getKind() == PlanKind.PLAN_KIND_HEAL)
          .findFirst().orElseThrow();
      assertEquals(PlanState.PLAN_STATE_DONE, heal.getState(), heal.toString());
      assertEquals(held, heal.getJobsTotal());
      await("every shard has three replicas, all in sync, none on node-3", () ->
          states(cluster).values().stream().allMatch(s -> s.replicas().size() == 3
              && !s.replicas().contains("node-3") && s.isr().size() == 3));
      router.decide(1, "healed", ids("healed-", 200));
      history.assertInvariants(cluster);
      assertEquals(1, plans(cluster).stream().filter(p -> p.getKind() == PlanKind.PLAN_KIND_HEAL)
          .count(), "one heal per node");
    }
  }

  private static Map<Integer, ShardState> states(ClusterFixture cluster) {
    for (DedupeNode n : cluster.running()) {
      if (n.clusterMember().controller().isLeader()) {
        return n.clusterMember().shardStates();
      }
    }
    return cluster.running().get(0).clusterMember().shardStates();
  }

  private static List<Plan> plans(ClusterFixture cluster) {
    int asked = index(cluster.running().get(0).clusterMember().nodeId());
    try {
      return cluster.admin(asked).listPlans(ListPlansRequest.getDefaultInstance())
          .getPlansList();
    } catch (StatusRuntimeException e) {
      return List.of();
    }
  }

  private static List<Move> jobsOf(ClusterFixture cluster, String planId) {
    int asked = index(cluster.running().get(0).clusterMember().nodeId());
    return cluster.admin(asked).listMoves(ListMovesRequest.getDefaultInstance()).getMovesList()
        .stream().filter(m -> m.getPlanId().equals(planId)).toList();
  }

  private static Plan awaitPlan(ClusterFixture cluster, String id, Predicate<Plan> condition)
      throws InterruptedException {
    Plan[] seen = new Plan[1];
    try {
      await(id + " reaches the state wanted", () -> {
        Optional<Plan> p = plans(cluster).stream().filter(x -> x.getPlanId().equals(id))
            .findFirst();
        seen[0] = p.orElse(null);
        return p.isPresent() && condition.test(p.get());
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; last seen: " + seen[0] + "; jobs "
          + jobsOf(cluster, id), e);
    }
    return seen[0];
  }

  private static void assertRefused(Status.Code code, String words, Runnable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().contains(words), e.getStatus().getDescription());
  }

  private static String causes(Throwable t) {
    StringBuilder out = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      out.append(c.getMessage()).append(" / ");
    }
    return out.toString();
  }

  private static int index(String nodeId) {
    return Integer.parseInt(nodeId.substring("node-".length()));
  }
}
