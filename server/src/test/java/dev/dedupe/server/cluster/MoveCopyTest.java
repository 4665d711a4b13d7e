package dev.dedupe.server.cluster;

import static dev.dedupe.server.cluster.ClusterFixture.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.rpc.BadRequest;
import dev.dedupe.admin.v1.GetThrottleRequest;
import dev.dedupe.admin.v1.ListMovesRequest;
import dev.dedupe.admin.v1.Move;
import dev.dedupe.admin.v1.MovePhase;
import dev.dedupe.admin.v1.MoveReplicaRequest;
import dev.dedupe.admin.v1.MoveState;
import dev.dedupe.admin.v1.SetThrottleRequest;
import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.ops.Exposition;
import dev.dedupe.server.replication.CopyTracker;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data side of moves on four nodes with three replicas per shard, over real ZooKeeper,
 * RocksDB and gRPC: a throttled copy holds its rate (measured from the bytes the leader sent
 * and the time from its first chunk to the install), shows its progress in ListMoves while it
 * runs, and its throttle ends with the move, not before; a copy cut off mid-way resumes where
 * it stopped instead of starting over, and ends identical; a moved-away replica's data is kept
 * for the grace, then deleted; bad throttle input is refused naming the field.
 *
 * <p>The shard moved holds a few MiB: ids chosen to hash to it, each stored with a 128-byte
 * attempt token and a 64-byte fingerprint (about 220 bytes a record in a snapshot).
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class MoveCopyTest {

  private static final int NODES = 4;
  private static final int SHARDS = 4;
  private static final String NS = "copy.test";
  private static final long MIB = 1 << 20;

  @TempDir Path dir;

  private record Plan(int shard, int source, int target) {}

  @Test
  void aThrottledCopyHoldsItsRateShowsItsProgressAndItsThrottleEndsWithTheMove()
      throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, NODES, SHARDS, 3)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      Plan loaded = plan(cluster);
      List<String> ids = load(cluster, loaded, 4 * MIB);
      Plan plan = forgetTails(cluster, loaded);

      refusesBadThrottles(cluster);
      long rate = MIB;
      cluster.admin(0).setThrottle(SetThrottleRequest.newBuilder().setBytesPerSecond(rate)
          .build());
      await("every node holds its copies to the throttle", () -> cluster.running().stream()
          .allMatch(n -> n.copyThrottle().rate() == rate));

      DedupeNode leader = cluster.node(plan.source());
      CopyTracker copies = leader.copies();
      String id = cluster.admin(plan.target()).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.source()))
          .setToNode(node(plan.target())).build()).getMove().getMoveId();
      await("the leader starts the copy", () -> copies.view(plan.shard(), node(plan.target()))
          .map(CopyTracker.View::snapshotting).orElse(false));
      long started = System.nanoTime();
      assertEquals(rate, cluster.admin(1).getThrottle(GetThrottleRequest.getDefaultInstance())
          .getThrottle().getBytesPerSecond(), "the throttle holds while its move runs");

      Move midway = awaitMove(cluster, id, m -> m.getPhase() == MovePhase.MOVE_PHASE_CATCH_UP
          && m.getBytesCopied() > 0 && m.getBytesCopied() < m.getBytesTotal()
          && m.getCopyRateBytesPerSecond() > 0);
      assertTrue(midway.hasCopyUpdateTime(), midway.toString());
      assertTrue(midway.getBytesTotal() >= 3 * MIB, "the snapshot's size, estimated: " + midway);
      assertEquals(1.0, metric(leader, "dedupe_snapshot_copies_in_flight"), "copies in flight");
      assertEquals((double) rate, metric(leader, "dedupe_copy_throttle_bytes_per_second"));
      assertEquals(1.0, total(cluster, "dedupe_moves_running"), "moves running, over the nodes");

      CopyTracker.Attempt installed = awaitAttempt(copies, plan, CopyTracker.Attempt::installed);
      double seconds = (System.nanoTime() - started) / 1e9;
      double measured = installed.bytesSent() / seconds;
      System.out.printf("COPY throttle %d B/s: %d bytes in %.2f s = %.0f B/s (%.2fx)%n", rate,
          installed.bytesSent(), seconds, measured, measured / rate);
      assertTrue(installed.bytesSent() >= 3 * MIB, installed.toString());
      assertTrue(measured <= 1.2 * rate && measured >= 0.8 * rate,
          "measured " + measured + " B/s against a throttle of " + rate);

      assertTrue(metric(leader, "dedupe_snapshot_copied_bytes_total", "direction", "sent")
          >= installed.bytesSent(), "bytes sent, as the leader's metrics count them");
      assertTrue(metric(cluster.node(plan.target()), "dedupe_snapshot_copied_bytes_total",
          "direction", "received") >= installed.bytesSent(), "bytes received by the target");

      Move done = awaitMove(cluster, id, m -> m.getState() != MoveState.MOVE_STATE_RUNNING);
      assertEquals(MoveState.MOVE_STATE_DONE, done.getState(), done.toString());
      await("the controller cleared the throttle after its move", () ->
          cluster.admin(0).getThrottle(GetThrottleRequest.getDefaultInstance()).getThrottle()
              .getBytesPerSecond() == 0);
      await("every node runs its copies unthrottled again", () -> cluster.running().stream()
          .allMatch(n -> n.copyThrottle().rate() == 0));
      assertCopiesIdentical(cluster, plan, ids);
    }
  }

  @Test
  void aThrottleSetBeforeAMoveIsNotClearedBeforeTheMoveBegins() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, NODES, SHARDS, 3)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      Plan plan = plan(cluster);
      // A move that finished before the throttle was set does not end it.
      String first = cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.source()))
          .setToNode(node(plan.target())).build()).getMove().getMoveId();
      awaitMove(cluster, first, m -> m.getState() == MoveState.MOVE_STATE_DONE);
      cluster.admin(0).setThrottle(SetThrottleRequest.newBuilder().setBytesPerSecond(MIB)
          .build());
      await("every node holds its copies to the throttle", () -> cluster.running().stream()
          .allMatch(n -> n.copyThrottle().rate() == MIB));
      // The controller passes over the jobs at least every 5 s: let two passes go by.
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(11);
      while (System.nanoTime() < until) {
        assertEquals(MIB, cluster.admin(1).getThrottle(GetThrottleRequest.getDefaultInstance())
            .getThrottle().getBytesPerSecond(), "cleared before any move began");
        Thread.sleep(200);
      }
      // Moving it back finishes after the throttle was set: that ends it.
      String back = cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.target()))
          .setToNode(node(plan.source())).build()).getMove().getMoveId();
      awaitMove(cluster, back, m -> m.getState() == MoveState.MOVE_STATE_DONE);
      await("the controller cleared the throttle after the move", () ->
          cluster.admin(0).getThrottle(GetThrottleRequest.getDefaultInstance()).getThrottle()
              .getBytesPerSecond() == 0);
    }
  }

  @Test
  void aCopyCutOffMidwayResumesWhereItStoppedAndEndsIdentical() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, NODES, SHARDS, 3)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      Plan loaded = plan(cluster);
      List<String> ids = load(cluster, loaded, 4 * MIB);
      Plan plan = forgetTails(cluster, loaded);
      // Slow enough that "mid-copy" is a state to wait for, not a moment to hit.
      cluster.admin(0).setThrottle(SetThrottleRequest.newBuilder().setBytesPerSecond(MIB)
          .build());
      await("every node holds its copies to the throttle", () -> cluster.running().stream()
          .allMatch(n -> n.copyThrottle().rate() == MIB));
      CopyTracker copies = cluster.node(plan.source()).copies();
      String id = cluster.admin(plan.target()).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.source()))
          .setToNode(node(plan.target())).build()).getMove().getMoveId();
      await("the target has accepted part of the snapshot", () ->
          copies.view(plan.shard(), node(plan.target()))
              .map(v -> v.snapshotting() && v.bytesCopied() >= 2 * MIB).orElse(false));

      cluster.replicationInbound(plan.target()).cut();
      CopyTracker.Attempt cut = awaitAttempt(copies, plan, a -> !a.installed());
      cluster.replicationInbound(plan.target()).heal();

      CopyTracker.Attempt installed = awaitAttempt(copies, plan, CopyTracker.Attempt::installed);
      long whole = copies.view(plan.shard(), node(plan.target())).orElseThrow().bytesTotal();
      System.out.printf("COPY resume: cut after %d bytes; resumed at chunk %d, sent %d of %d%n",
          cut.bytesSent(), installed.fromIndex(), installed.bytesSent(), whole);
      assertEquals(cut.installId(), installed.installId(), "the same install went on");
      assertTrue(installed.fromIndex() > 0, installed.toString());
      assertTrue(installed.bytesSent() < whole, "resumed " + installed + " of " + whole);
      long sentInAll = copies.attempts().stream()
          .filter(a -> a.shard() == plan.shard() && a.follower().equals(node(plan.target())))
          .mapToLong(CopyTracker.Attempt::bytesSent).sum();
      assertTrue(sentInAll < whole + 2 * MIB, "sent " + sentInAll + " for " + whole);

      Move done = awaitMove(cluster, id, m -> m.getState() != MoveState.MOVE_STATE_RUNNING);
      assertEquals(MoveState.MOVE_STATE_DONE, done.getState(), done.toString());
      assertCopiesIdentical(cluster, plan, ids);
    }
  }

  @Test
  void aCopyWhoseTargetRestartsMidwayResumesAfterTheRestartAndEndsIdentical() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.withSettings(dir, NODES, SHARDS, NODES, 3,
        Map.of())) {
      cluster.awaitServing();
      cluster.awaitInSync();
      Plan loaded = plan(cluster);
      List<String> ids = load(cluster, loaded, 4 * MIB);
      Plan plan = forgetTails(cluster, loaded);
      int asked = plan.source();
      cluster.admin(asked).setThrottle(SetThrottleRequest.newBuilder().setBytesPerSecond(MIB)
          .build());
      await("every node holds its copies to the throttle", () -> cluster.running().stream()
          .allMatch(n -> n.copyThrottle().rate() == MIB));
      CopyTracker copies = cluster.node(plan.source()).copies();
      String id = cluster.admin(asked).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.source()))
          .setToNode(node(plan.target())).build()).getMove().getMoveId();
      await("the target has accepted part of the snapshot", () ->
          copies.view(plan.shard(), node(plan.target()))
              .map(v -> v.snapshotting() && v.bytesCopied() >= 2 * MIB).orElse(false));

      cluster.stop(plan.target()); // its process ends with the install half done
      CopyTracker.Attempt cut = awaitAttempt(copies, plan, a -> !a.installed());
      cluster.start(plan.target());

      CopyTracker.Attempt installed = awaitAttempt(copies, plan, CopyTracker.Attempt::installed);
      long whole = copies.view(plan.shard(), node(plan.target())).orElseThrow().bytesTotal();
      System.out.printf("COPY restart: cut after %d bytes; resumed at chunk %d, sent %d of %d%n",
          cut.bytesSent(), installed.fromIndex(), installed.bytesSent(), whole);
      assertEquals(cut.installId(), installed.installId(), "the same install went on");
      assertTrue(installed.fromIndex() > 0, "resumed, not started over: " + installed);
      assertTrue(installed.bytesSent() < whole, "resumed " + installed + " of " + whole);

      Move done = awaitMove(cluster, id, m -> m.getState() != MoveState.MOVE_STATE_RUNNING);
      assertEquals(MoveState.MOVE_STATE_DONE, done.getState(), done.toString());
      assertCopiesIdentical(cluster, plan, ids);
    }
  }

  @Test
  void aMovedAwayReplicasDataIsKeptForTheGraceThenDeleted() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, NODES, SHARDS, 3,
        Map.of("cluster.removed-replica-grace.seconds", "6"))) {
      cluster.awaitServing();
      cluster.awaitInSync();
      Plan plan = plan(cluster);
      load(cluster, plan, MIB / 4);
      DedupeNode source = cluster.node(plan.source());
      String id = cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.source()))
          .setToNode(node(plan.target())).build()).getMove().getMoveId();
      awaitMove(cluster, id, m -> m.getState() == MoveState.MOVE_STATE_DONE);
      await("the source closed the shard", () -> !source.shards().isOpen(plan.shard()));
      long closedAt = System.nanoTime();
      boolean keptAtClose = source.shards().nodeStore().holdsShard(plan.shard());
      await("the source deleted the shard's data", () ->
          !source.shards().nodeStore().holdsShard(plan.shard()));
      double kept = (System.nanoTime() - closedAt) / 1e9;
      assertTrue(keptAtClose, "the data was kept when the shard closed");
      assertTrue(kept >= 4.0, "deleted " + kept + " s after the close, within a 6 s grace");
      // The other shards on the source are untouched.
      for (int s = 0; s < SHARDS; s++) {
        if (s != plan.shard() && source.shards().isOpen(s)) {
          assertTrue(source.shards().nodeStore().holdsShard(s), "shard " + s);
        }
      }
    }
  }

  @Test
  void aReplicaMovedBackWithinTheGraceCatchesUpAndHoldsEveryId() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, NODES, SHARDS, 3)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      Plan plan = plan(cluster);
      List<String> ids = load(cluster, plan, MIB / 4);
      String away = cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.source()))
          .setToNode(node(plan.target())).build()).getMove().getMoveId();
      awaitMove(cluster, away, m -> m.getState() == MoveState.MOVE_STATE_DONE);
      DedupeNode source = cluster.node(plan.source());
      await("the source closed the shard", () -> !source.shards().isOpen(plan.shard()));
      assertTrue(source.shards().nodeStore().holdsShard(plan.shard()), "kept for the grace");
      // Written while the old replica is away: it must not come back without them.
      List<String> later = idsOf(plan.shard(), "later-", 300);
      insert(cluster, plan.target(), later);

      String back = cluster.admin(0).moveReplica(MoveReplicaRequest.newBuilder()
          .setShard(plan.shard()).setFromNode(node(plan.target()))
          .setToNode(node(plan.source())).build()).getMove().getMoveId();
      awaitMove(cluster, back, m -> m.getState() == MoveState.MOVE_STATE_DONE);
      List<String> all = new ArrayList<>(ids);
      all.addAll(later);
      assertCopiesIdentical(cluster, new Plan(plan.shard(), plan.target(), plan.source()), all);
    }
  }

  // ------------------------------------------------------------------------------ helpers

  private static double metric(DedupeNode n, String name, String... labels) {
    try {
      Double v = Exposition.scrape(n.opsPort()).value(name, labels);
      return v == null ? 0 : v;
    } catch (Exception e) {
      throw new AssertionError("scrape of " + n.advertisedAddress() + " failed", e);
    }
  }

  private static double total(ClusterFixture cluster, String name) {
    return cluster.running().stream().mapToDouble(n -> metric(n, name)).sum();
  }

  private static void refusesBadThrottles(ClusterFixture cluster) {
    for (long bad : new long[] {-1, 100, (1L << 40) + 1}) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () ->
          cluster.admin(0).setThrottle(SetThrottleRequest.newBuilder().setBytesPerSecond(bad)
              .build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.toString());
      assertTrue(e.getStatus().getDescription().contains("bytes_per_second"),
          e.getStatus().getDescription());
      com.google.rpc.Status detail = StatusProto.fromThrowable(e);
      assertTrue(detail != null && detail.getDetailsList().stream().anyMatch(a -> {
        try {
          return a.is(BadRequest.class) && a.unpack(BadRequest.class).getFieldViolations(0)
              .getField().equals("bytes_per_second");
        } catch (com.google.protobuf.InvalidProtocolBufferException x) {
          return false;
        }
      }), String.valueOf(detail));
    }
    assertEquals(0, cluster.admin(0).getThrottle(GetThrottleRequest.getDefaultInstance())
        .getThrottle().getBytesPerSecond(), "a refused rate sets nothing");
  }

  /** Ids of {@code shard} only: a few MiB in one shard for little work on the others. */
  private static List<String> idsOf(int shard, String prefix, int n) {
    List<String> out = new ArrayList<>(n);
    for (long i = 0; out.size() < n; i++) {
      String id = prefix + i;
      if (ShardHash.shardOf(NS, id, SHARDS) == shard) {
        out.add(id);
      }
    }
    return out;
  }

  /** Records about {@code bytes} of snapshot in the plan's shard; returns the ids. */
  private static List<String> load(ClusterFixture cluster, Plan plan, long bytes)
      throws InterruptedException {
    List<String> ids = idsOf(plan.shard(), "id-", (int) (bytes / 220));
    insert(cluster, plan.source(), ids);
    return ids;
  }

  /**
   * Restarts every node, so that no leader keeps the shard's log in memory: a leader's tail
   * (16 MiB) would otherwise hold every entry of a few MiB, and the target would catch up by
   * resending them, with no snapshot to throttle or resume. Returns the plan as the restarted
   * cluster leads it.
   */
  private static Plan forgetTails(ClusterFixture cluster, Plan plan) throws InterruptedException {
    for (int i = NODES - 1; i >= 0; i--) {
      cluster.stop(i);
    }
    for (int i = 0; i < NODES; i++) {
      cluster.start(i);
    }
    cluster.awaitServing();
    cluster.awaitInSync();
    // Leaderships go back to their preferred replicas after a restart: let that settle, so the
    // shard's leader does not change during the copy.
    await("the shard is led by its preferred replica", () -> cluster.running().stream()
        .allMatch(n -> {
          ShardState s = n.clusterMember().shardStates().get(plan.shard());
          return s != null && s.leader().equals(s.replicas().get(0));
        }));
    ShardState s = cluster.node(0).clusterMember().shardStates().get(plan.shard());
    return new Plan(plan.shard(), index(s.leader()), plan.target());
  }

  private static void insert(ClusterFixture cluster, int leader, List<String> ids)
      throws InterruptedException {
    byte[] fingerprint = new byte[64];
    java.util.Arrays.fill(fingerprint, (byte) 7);
    for (int from = 0; from < ids.size(); from += 2000) {
      List<String> part = ids.subList(from, Math.min(ids.size(), from + 2000));
      String token = "t".repeat(100) + String.format("%028d", from);
      List<IdResult> results = null;
      for (int attempt = 0; results == null; attempt++) {
        try {
          results = cluster.stub(leader).checkAndInsert(CheckAndInsertRequest.newBuilder()
              .setNamespace(NS).addAllMessageIds(part).setAttemptToken(token)
              .setFingerprint(ByteString.copyFrom(fingerprint)).build()).getResultsList();
        } catch (StatusRuntimeException e) {
          if (attempt > 50) {
            throw e;
          }
          Thread.sleep(100); // a leadership moving: the same token makes the retry safe
        }
      }
      assertTrue(results.stream().allMatch(r -> r.getVerdict() == Verdict.VERDICT_NEW),
          "every id NEW (or a replay): " + results.stream().filter(
              r -> r.getVerdict() != Verdict.VERDICT_NEW).findFirst());
    }
  }

  /** Every replica holds the same ids, and each id is DUPLICATE through the shard's leader. */
  private static void assertCopiesIdentical(ClusterFixture cluster, Plan plan, List<String> ids)
      throws InterruptedException {
    await("every replica of the shard holds the same ids", () -> {
      ShardState s = cluster.node(plan.target()).clusterMember().shardStates().get(plan.shard());
      if (!s.replicas().contains(node(plan.target()))
          || s.isr().size() != s.replicas().size()) {
        return false;
      }
      Map<String, Long> want = ClusterFixture.keysPerShard(cluster.node(index(s.leader())))
          .get(plan.shard());
      return want != null && want.getOrDefault(NS, 0L) == ids.size()
          && s.replicas().stream().allMatch(r -> want.equals(
              ClusterFixture.keysPerShard(cluster.node(index(r))).get(plan.shard())));
    });
    for (int from = 0; from < ids.size(); from += 2000) {
      List<String> part = ids.subList(from, Math.min(ids.size(), from + 2000));
      List<IdResult> results = checkAtLeader(cluster, plan, part);
      assertFalse(results.stream().anyMatch(r -> r.getVerdict() != Verdict.VERDICT_DUPLICATE),
          "an id acknowledged NEW is no longer DUPLICATE");
    }
  }

  /**
   * Asks the shard's leader, following it should it change (the controller hands leadership
   * back to the preferred replica once a moved replica is in sync): UNAVAILABLE from a node
   * that no longer leads records nothing, so asking the new leader is what a client does.
   */
  private static List<IdResult> checkAtLeader(ClusterFixture cluster, Plan plan,
      List<String> ids) throws InterruptedException {
    List<IdResult> answered = new ArrayList<>();
    await("the shard's leader answers", () -> {
      ShardState s = cluster.node(plan.target()).clusterMember().shardStates()
          .get(plan.shard());
      try {
        answered.addAll(cluster.stub(index(s.leader())).checkAndInsert(
            CheckAndInsertRequest.newBuilder().setNamespace(NS).addAllMessageIds(ids)
                .build()).getResultsList());
        return true;
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
          throw e;
        }
        return false;
      }
    });
    return answered;
  }

  private static CopyTracker.Attempt awaitAttempt(CopyTracker copies, Plan plan,
      Predicate<CopyTracker.Attempt> wanted) throws InterruptedException {
    CopyTracker.Attempt[] found = new CopyTracker.Attempt[1];
    await("an attempt of the copy as wanted", () -> {
      for (CopyTracker.Attempt a : copies.attempts()) {
        if (a.shard() == plan.shard() && a.follower().equals(node(plan.target()))
            && wanted.test(a)) {
          found[0] = a;
          return true;
        }
      }
      return false;
    });
    return found[0];
  }

  /** A shard led by a node that is not the controller, and a node without a replica of it. */
  private static Plan plan(ClusterFixture cluster) {
    Map<Integer, ShardState> states = cluster.node(0).clusterMember().shardStates();
    int controller = controller(cluster);
    for (ShardState s : states.values()) {
      for (int t = 0; t < NODES; t++) {
        if (!s.replicas().contains(node(t)) && index(s.leader()) != controller) {
          return new Plan(s.shard(), index(s.leader()), t);
        }
      }
    }
    for (ShardState s : states.values()) {
      for (int t = 0; t < NODES; t++) {
        if (!s.replicas().contains(node(t))) {
          return new Plan(s.shard(), index(s.leader()), t);
        }
      }
    }
    throw new AssertionError("no shard to move: " + states);
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

  private static Move awaitMove(ClusterFixture cluster, String id, Predicate<Move> condition)
      throws InterruptedException {
    Move[] seen = new Move[1];
    try {
      await(id + " reaches the state wanted", () -> {
        Optional<Move> move;
        try {
          move = cluster.admin(0).listMoves(ListMovesRequest.getDefaultInstance())
              .getMovesList().stream().filter(m -> m.getMoveId().equals(id)).findFirst();
        } catch (StatusRuntimeException e) {
          return false;
        }
        seen[0] = move.orElse(null);
        return move.isPresent() && condition.test(move.get());
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; last seen: " + seen[0], e);
    }
    return seen[0];
  }

  private static String node(int i) {
    return "node-" + i;
  }

  private static int index(String nodeId) {
    return Integer.parseInt(nodeId.substring("node-".length()));
  }
}
