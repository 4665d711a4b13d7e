package dev.dedupe.server.cluster;

import static dev.dedupe.server.cluster.ClusterFixture.await;
import static dev.dedupe.server.cluster.ClusterFixture.ids;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.admin.v1.CancelMoveRequest;
import dev.dedupe.admin.v1.ListMovesRequest;
import dev.dedupe.admin.v1.Move;
import dev.dedupe.admin.v1.MovePhase;
import dev.dedupe.admin.v1.MoveReplicaRequest;
import dev.dedupe.admin.v1.MoveState;
import dev.dedupe.admin.v1.TransferLeaderRequest;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.testing.InProcessNode;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Move jobs on four nodes with three replicas per shard, over real ZooKeeper, RocksDB and gRPC:
 * a move of a leader's replica copies the shard and ends with the replicas asked; a move
 * resumes under a new controller; a cancel during the copy leaves the old replica set; a
 * leadership transfer; and the admin API's refusals. The target's copy is held back by cutting
 * its replication listener, so that "mid-move" is a state the test waits for, not a time.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class MoveJobTest {

  private static final int NODES = 4;
  private static final int SHARDS = 4;

  @TempDir Path dir;

  /** A shard, the node leading it (the source) and a node that holds no replica (the target). */
  private record Plan(int shard, int source, int target, ShardState before) {}

  @Test
  void aMoveOfALeadersReplicaCopiesTheShardAndEndsWithTheReplicasAsked() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, NODES, SHARDS, 3)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      router.decide(0, "before", ids("before-", 400));
      Plan plan = plan(cluster);

      Move requested = cluster.admin(plan.target()).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.source()))
          .setToNode(node(plan.target())).build()).getMove();
      assertTrue(requested.getMoveId().matches("m-\\d{6}"), requested.getMoveId());
      assertEquals(MovePhase.MOVE_PHASE_PENDING, requested.getPhase());
      router.decide(1, "during", ids("during-", 200));

      Move done = awaitMove(cluster, requested.getMoveId(),
          m -> m.getState() != MoveState.MOVE_STATE_RUNNING);
      assertEquals(MoveState.MOVE_STATE_DONE, done.getState(), done.toString());
      ShardState after = awaitShard(cluster, plan.shard(),
          s -> !s.replicas().contains(node(plan.source())));
      assertEquals(expectedReplicas(plan), new java.util.TreeSet<>(after.replicas()));
      assertEquals(node(plan.target()), after.leader(), "leadership went with the replica");
      await("the source closed its replica", () ->
          !cluster.node(plan.source()).shards().isOpen(plan.shard()));
      await("every replica of the shard holds the same ids", () -> {
        Map<String, Long> target = ClusterFixture.keysPerShard(cluster.node(plan.target()))
            .get(plan.shard());
        return after.replicas().stream().map(r -> ClusterFixture.keysPerShard(
            cluster.node(index(r))).get(plan.shard())).allMatch(k -> k.equals(target));
      });
      router.decide(2, "after", ids("after-", 200));
      history.assertInvariants(cluster);

      StatusRuntimeException late = assertThrows(StatusRuntimeException.class, () ->
          cluster.admin(0).cancelMove(CancelMoveRequest.newBuilder()
              .setMoveId(requested.getMoveId()).build()));
      assertEquals(Status.Code.FAILED_PRECONDITION, late.getStatus().getCode());
      assertTrue(late.getStatus().getDescription().contains("already finished"),
          late.getStatus().getDescription());
    }
  }

  @Test
  void aMoveResumesUnderANewControllerWhenTheOldOneStopsMidCopy() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, NODES, SHARDS, 3)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      router.decide(0, "before", ids("before-", 300));
      Plan plan = plan(cluster);
      int controller = controller(cluster);

      cluster.replicationInbound(plan.target()).cut(); // the copy cannot finish
      String id = cluster.admin(plan.target()).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.source()))
          .setToNode(node(plan.target())).build()).getMove().getMoveId();
      awaitMove(cluster, id, m -> m.getPhase() == MovePhase.MOVE_PHASE_CATCH_UP);

      cluster.stop(controller);
      await("another node is the controller", () -> cluster.running().stream()
          .anyMatch(n -> n.clusterMember().controller().isLeader()));
      Move waiting = awaitMove(cluster, id, m -> true);
      assertEquals(MoveState.MOVE_STATE_RUNNING, waiting.getState(), waiting.toString());
      assertEquals(MovePhase.MOVE_PHASE_CATCH_UP, waiting.getPhase(), waiting.toString());

      // No writes here: with the target cut off and the controller's node gone, a shard whose
      // replicas were those two and one more is down to one in-sync replica, below the minimum
      // (two faults; the test's, not the move's).
      cluster.replicationInbound(plan.target()).heal();
      router.decide(plan.target(), "healed", ids("healed-", 200));
      Move done = awaitMove(cluster, id, m -> m.getState() != MoveState.MOVE_STATE_RUNNING);
      assertEquals(MoveState.MOVE_STATE_DONE, done.getState(), done.toString());
      ShardState after = awaitShard(cluster, plan.shard(),
          s -> !s.replicas().contains(node(plan.source())));
      assertTrue(after.replicas().contains(node(plan.target())), after.toString());
      assertEquals(3, after.replicas().size(), after.toString());
      history.assertInvariants(cluster);
    }
  }

  @Test
  void aCancelDuringTheCopyLeavesTheOldReplicaSet() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, NODES, SHARDS, 3)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      router.decide(0, "before", ids("before-", 200));
      Plan plan = plan(cluster);

      cluster.replicationInbound(plan.target()).cut();
      String id = cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.source()))
          .setToNode(node(plan.target())).build()).getMove().getMoveId();
      awaitMove(cluster, id, m -> m.getPhase() == MovePhase.MOVE_PHASE_CATCH_UP);
      await("the target opened its replica", () ->
          cluster.node(plan.target()).shards().isOpen(plan.shard()));

      Move cancelling = cluster.admin(1).cancelMove(CancelMoveRequest.newBuilder()
          .setMoveId(id).build()).getMove();
      assertTrue(cancelling.getCancelRequested());
      Move cancelled = awaitMove(cluster, id, m -> m.getState() != MoveState.MOVE_STATE_RUNNING);
      assertEquals(MoveState.MOVE_STATE_CANCELLED, cancelled.getState(), cancelled.toString());
      ShardState after = awaitShard(cluster, plan.shard(),
          s -> !s.replicas().contains(node(plan.target())));
      assertEquals(plan.before().replicas(), after.replicas());
      assertEquals(plan.before().leader(), after.leader());
      assertEquals(plan.before().epoch(), after.epoch(), "no leader change");
      await("the target closed the replica it was given", () ->
          !cluster.node(plan.target()).shards().isOpen(plan.shard()));
      cluster.replicationInbound(plan.target()).heal();
      router.decide(1, "after", ids("after-", 200));
      history.assertInvariants(cluster);
    }
  }

  @Test
  void aLeadershipTransferAndTheApisRefusals() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, NODES, SHARDS, 3)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      Plan plan = plan(cluster);
      String follower = plan.before().followers().get(0);

      String id = cluster.admin(0).transferLeader(TransferLeaderRequest.newBuilder()
          .setShard(plan.shard()).setToNode(follower).build()).getMove().getMoveId();
      assertEquals(MoveState.MOVE_STATE_DONE, awaitMove(cluster, id,
          m -> m.getState() != MoveState.MOVE_STATE_RUNNING).getState());
      assertEquals(follower, awaitShard(cluster, plan.shard(), s -> s.isLeader(follower)).leader());

      assertRefused(Status.Code.INVALID_ARGUMENT, "shard must be 0 to 3", () ->
          cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder().setShard(SHARDS)
              .setFromNode("node-0").setToNode("node-1").build()));
      assertRefused(Status.Code.INVALID_ARGUMENT, "shard is required", () ->
          cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder()
              .setFromNode("node-0").setToNode("node-1").build()));
      assertRefused(Status.Code.INVALID_ARGUMENT, "holds no replica", () ->
          cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder().setShard(plan.shard())
              .setFromNode(node(plan.target())).setToNode(follower).build()));
      assertRefused(Status.Code.INVALID_ARGUMENT, "already holds a replica", () ->
          cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder().setShard(plan.shard())
              .setFromNode(follower).setToNode(node(plan.source())).build()));
      assertRefused(Status.Code.FAILED_PRECONDITION, "not live", () ->
          cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder().setShard(plan.shard())
              .setFromNode(follower).setToNode("node-9").build()));
      assertRefused(Status.Code.NOT_FOUND, "no move m-999999", () ->
          cluster.admin(0).cancelMove(CancelMoveRequest.newBuilder().setMoveId("m-999999")
              .build()));
      assertRefused(Status.Code.INVALID_ARGUMENT, "move_id must look like", () ->
          cluster.admin(0).cancelMove(CancelMoveRequest.newBuilder().setMoveId("12").build()));
      // A second job on a shard is refused while the first runs.
      cluster.replicationInbound(plan.target()).cut();
      String first = cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.source()))
          .setToNode(node(plan.target())).build()).getMove().getMoveId();
      assertRefused(Status.Code.FAILED_PRECONDITION, first + " ", () ->
          cluster.admin(1).transferLeader(TransferLeaderRequest.newBuilder()
              .setShard(plan.shard()).setToNode(node(plan.source())).build()));
      cluster.admin(0).cancelMove(CancelMoveRequest.newBuilder().setMoveId(first).build());
      awaitMove(cluster, first, m -> m.getState() == MoveState.MOVE_STATE_CANCELLED);
      cluster.replicationInbound(plan.target()).heal();
    }
  }

  @Test
  void aStandaloneNodeSaysItHasNothingToMove() throws Exception {
    try (InProcessNode standalone = InProcessNode.start(dir.resolve("alone"),
        InstantSource.system(), Map.of())) {
      var admin = dev.dedupe.admin.v1.AdminServiceGrpc.newBlockingStub(standalone.channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS);
      assertRefused(Status.Code.FAILED_PRECONDITION, "standalone", () ->
          admin.listMoves(ListMovesRequest.getDefaultInstance()));
    }
  }

  private static void assertRefused(Status.Code code, String words, Runnable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().contains(words), e.getStatus().getDescription());
  }

  /** A shard whose leader moves to a node without a replica that is not the controller. */
  private static Plan plan(ClusterFixture cluster) {
    int controller = controller(cluster);
    Map<Integer, ShardState> states = cluster.node(controller).clusterMember().shardStates();
    for (ShardState s : states.values()) {
      for (int t = 0; t < NODES; t++) {
        if (t != controller && !s.replicas().contains(node(t))) {
          return new Plan(s.shard(), index(s.leader()), t, s);
        }
      }
    }
    throw new AssertionError("no shard without a replica on a node other than the controller: "
        + states);
  }

  private static int controller(ClusterFixture cluster) {
    for (int i = 0; i < NODES; i++) {
      DedupeNode n = cluster.node(i);
      if (n != null && n.clusterMember().controller().isLeader()) {
        return i;
      }
    }
    throw new AssertionError("no controller");
  }

  private static java.util.Set<String> expectedReplicas(Plan plan) {
    java.util.Set<String> set = new java.util.TreeSet<>(plan.before().replicas());
    set.remove(node(plan.source()));
    set.add(node(plan.target()));
    return set;
  }

  /** The job as some running node's API shows it, once {@code condition} holds. */
  private static Move awaitMove(ClusterFixture cluster, String id, Predicate<Move> condition)
      throws InterruptedException {
    Move[] seen = new Move[1];
    try {
      awaitSeen(cluster, id, condition, seen);
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; last seen: " + seen[0], e);
    }
    return seen[0];
  }

  private static void awaitSeen(ClusterFixture cluster, String id, Predicate<Move> condition,
      Move[] seen) throws InterruptedException {
    await(id + " reaches the state wanted", () -> {
      int asked = cluster.running().isEmpty() ? 0 : index(cluster.running().get(0)
          .clusterMember().nodeId());
      Optional<Move> move;
      try {
        move = cluster.admin(asked).listMoves(ListMovesRequest.getDefaultInstance())
            .getMovesList().stream().filter(m -> m.getMoveId().equals(id)).findFirst();
      } catch (StatusRuntimeException e) {
        return false; // a node stopping, ZooKeeper catching up: ask again
      }
      seen[0] = move.orElse(null);
      return move.isPresent() && condition.test(move.get());
    });
  }

  /** The shard's state as every running node has read it, once {@code condition} holds there. */
  private static ShardState awaitShard(ClusterFixture cluster, int shard,
      Predicate<ShardState> condition) throws InterruptedException {
    await("shard " + shard + " reaches the state wanted on every node", () ->
        cluster.running().stream().allMatch(n ->
            condition.test(n.clusterMember().shardStates().get(shard))));
    return cluster.running().get(0).clusterMember().shardStates().get(shard);
  }

  private static String node(int i) {
    return "node-" + i;
  }

  private static int index(String nodeId) {
    return Integer.parseInt(nodeId.substring("node-".length()));
  }
}
