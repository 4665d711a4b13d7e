package dev.dedupe.server.cluster;

import static dev.dedupe.server.cluster.ClusterFixture.await;
import static dev.dedupe.server.cluster.ClusterFixture.ids;
import static dev.dedupe.server.cluster.ClusterFixture.keysPerShard;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.replica.v1.PrepareHandoverRequest;
import dev.dedupe.replica.v1.PrepareHandoverResponse;
import dev.dedupe.replica.v1.ReplicaServiceGrpc;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.replication.ShardState;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A clean leadership handover over real gRPC and ZooKeeper: the new leader leads at epoch + 1,
 * the old one stays in sync with its store (never rebuilt) and follows; a handover that cannot
 * complete, or that no controller follows up, leaves the old leader leading after its lease;
 * a graceful stop hands every leadership over first.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class HandoverTest {

  private static final int SHARDS = 4;

  @TempDir Path dir;

  private static DedupeNode controllerOf(ClusterFixture cluster) {
    return cluster.running().stream().filter(n -> n.clusterMember().controller().isLeader())
        .findFirst().orElseThrow();
  }

  private static int indexOf(ClusterFixture cluster, String nodeId) {
    return Integer.parseInt(nodeId.substring("node-".length()));
  }

  @Test
  void theOldLeaderStaysInSyncWithItsStoreAndFollowsTheNewOne() throws Exception {
    try (ClusterFixture cluster = new ClusterFixture(dir, 3, SHARDS)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      router.decide(0, "before", ids("before-", 400));

      ShardState before = cluster.node(0).clusterMember().shardStates().get(1);
      String from = before.leader();
      String to = before.replicas().stream().filter(r -> !r.equals(from)).findFirst().orElseThrow();
      DedupeNode old = cluster.node(indexOf(cluster, from));
      String oldStore = old.shards().storeId(1);

      ShardState written = controllerOf(cluster).clusterMember().controller()
          .transferLeadership(1, to).get(60, TimeUnit.SECONDS);

      assertEquals(to, written.leader());
      assertEquals(before.epoch() + 1, written.epoch());
      assertEquals(to, written.replicas().get(0), "the new leader is the preferred one now");
      assertEquals(oldStore, written.isr().get(from), "the old leader stays in sync");
      router.decide(1, "after", ids("after-", 400));
      await("every replica holds the same ids", () ->
          keysPerShard(cluster.node(0)).equals(keysPerShard(cluster.node(1)))
              && keysPerShard(cluster.node(1)).equals(keysPerShard(cluster.node(2))));
      ShardState now = cluster.node(0).clusterMember().shardStates().get(1);
      assertEquals(to, now.leader(), "the choice stands (no balance undid it)");
      assertEquals(oldStore, now.isr().get(from), "still in sync, with the same store");
      assertEquals(oldStore, old.shards().storeId(1), "the old leader was not rebuilt");
      history.assertInvariants(cluster);

      // The same handover again is refused: the target leads already.
      ExecutionException again = assertThrows(ExecutionException.class, () ->
          controllerOf(cluster).clusterMember().controller().transferLeadership(1, to)
              .get(60, TimeUnit.SECONDS));
      assertTrue(again.getCause().getMessage().contains("already leads"), again.toString());
    }
  }

  @Test
  void aHandoverToAReplicaThatCannotCatchUpFailsAndTheLeaderLeadsOn() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, 3, SHARDS)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      router.decide(0, "before", ids("before-", 200));
      ShardState before = cluster.node(0).clusterMember().shardStates().get(2);
      String from = before.leader();
      String to = before.replicas().stream().filter(r -> !r.equals(from)).findFirst().orElseThrow();
      // Nothing reaches the target's replication listener: it never acknowledges the end.
      cluster.replicationInbound(indexOf(cluster, to)).cut();
      // Rounds the leader appends but cannot commit without the target: entries it lacks.
      List<String> cut = ids("cut-", 200);
      java.util.concurrent.CompletableFuture<Void> writing =
          java.util.concurrent.CompletableFuture.runAsync(() -> {
            try {
              router.decide(0, "cut", cut);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
      DedupeNode leader = cluster.node(indexOf(cluster, from));
      DedupeNode target = cluster.node(indexOf(cluster, to));
      await("the leader holds ids of shard 2 that the target lacks", () ->
          !keysPerShard(leader).get(2).equals(keysPerShard(target).get(2)));

      ExecutionException failed = assertThrows(ExecutionException.class, () ->
          controllerOf(cluster).clusterMember().controller().transferLeadership(2, to)
              .get(60, TimeUnit.SECONDS));
      assertTrue(failed.getCause() instanceof ClusterException, failed.toString());

      ShardState after = cluster.node(0).clusterMember().shardStates().get(2);
      assertEquals(from, after.leader(), "no new leader was written");
      assertEquals(before.epoch(), after.epoch());
      cluster.replicationInbound(indexOf(cluster, to)).heal();
      // The old leader resumes by itself once its lease ends, and nothing was lost.
      writing.get(120, TimeUnit.SECONDS);
      router.decide(0, "after", ids("after-", 200));
      history.assertInvariants(cluster);
    }
  }

  @Test
  void aPrepareNoControllerFollowsUpPausesTheShardOnlyForItsLease() throws Exception {
    try (ClusterFixture cluster = new ClusterFixture(dir, 3, SHARDS)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      ShardState s = cluster.node(0).clusterMember().shardStates().get(3);
      String to = s.replicas().stream().filter(r -> !r.equals(s.leader())).findFirst().orElseThrow();
      NodeRegistration leader = ClusterState.readRegistration(cluster.node(0).clusterMember()
          .zookeeper(), ClusterPaths.forCluster(ClusterFixture.CLUSTER), s.leader()).orElseThrow();
      // What a controller deposed right after asking would leave behind: a ready leader whose
      // new leader is never written.
      ManagedChannel channel = NettyChannelBuilder.forTarget(leader.replication()).usePlaintext()
          .build();
      try {
        PrepareHandoverResponse ready = ReplicaServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .prepareHandover(PrepareHandoverRequest.newBuilder().setShard(3)
                .setEpoch(s.epoch()).setTo(to).setLeaseMillis(1_000).build());
        assertTrue(ready.getReady(), ready.getDetail());
        // A late request for an older epoch is refused outright.
        PrepareHandoverResponse stale = ReplicaServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .prepareHandover(PrepareHandoverRequest.newBuilder().setShard(3)
                .setEpoch(s.epoch() - 1).setTo(to).setLeaseMillis(60_000).build());
        assertFalse(stale.getReady());
      } finally {
        channel.shutdownNow();
      }
      router.decide(0, "after-lease", ids("lease-", 200));
      ShardState after = cluster.node(0).clusterMember().shardStates().get(3);
      assertEquals(s.leader(), after.leader(), "the leader resumed");
      assertEquals(s.epoch(), after.epoch());
      history.assertInvariants(cluster);
    }
  }

  @Test
  void aGracefulStopHandsEveryLeadershipOverFirst() throws Exception {
    try (ClusterFixture cluster = new ClusterFixture(dir, 3, SHARDS)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      router.decide(0, "before", ids("before-", 300));
      for (int i = 0; i < 3; i++) {
        String stopping = "node-" + i;
        DedupeNode node = cluster.node(i);
        Map<Integer, String> stores = new java.util.HashMap<>();
        for (int s = 0; s < SHARDS; s++) {
          stores.put(s, node.shards().storeId(s));
        }
        // The first step of close(), on its own, so that the states can be looked at while the
        // node is still registered (afterwards the controller drops it from every in-sync set).
        node.clusterMember().handOverLeaderships(java.time.Duration.ofSeconds(60));
        Map<Integer, ShardState> states = node.clusterMember().shardStates();
        for (ShardState st : states.values()) {
          assertFalse(st.isLeader(stopping), "shard " + st.shard() + " still led by " + stopping);
          assertEquals(stores.get(st.shard()), st.isr().get(stopping),
              "shard " + st.shard() + ": " + stopping + " stays in sync with its store");
        }
        cluster.stop(i);
        router.decide((i + 1) % 3, "without-" + i, ids("without-" + i + "-", 100));
        cluster.start(i);
        cluster.awaitServing();
        cluster.awaitInSync();
      }
      // The preferred leaders lead again (the automatic balance).
      await("every shard led by its preferred replica", () -> cluster.node(0).clusterMember()
          .shardStates().values().stream().allMatch(st -> st.isLeader(st.replicas().get(0))));
      router.decide(0, "after", ids("after-", 100));
      history.assertInvariants(cluster);
      assertTrue(List.of(0, 1, 2).stream().allMatch(i -> cluster.node(i).isReady()));
    }
  }
}
