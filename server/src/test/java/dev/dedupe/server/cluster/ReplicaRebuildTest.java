package dev.dedupe.server.cluster;

import static dev.dedupe.server.cluster.ClusterFixture.await;
import static dev.dedupe.server.cluster.ClusterFixture.ids;
import static dev.dedupe.server.cluster.ClusterFixture.keysPerShard;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.v1.CheckAndInsertRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that lost its disk comes back empty under its old id: its replicas are rebuilt from
 * their leaders (snapshots, then the entries after them), it rejoins every in-sync set with its
 * new stores, its copies hold what the leaders hold, and it can take over from a leader.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ReplicaRebuildTest {

  private static final int SHARDS = 4;

  @TempDir Path dir;

  @Test
  void aNodeBackWithAnEmptyDiskIsRebuiltFromItsLeadersAndRejoins() throws Exception {
    try (ClusterFixture cluster = new ClusterFixture(dir, 3, SHARDS)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      router.decide(0, "before", ids("before-", 400));
      Map<Integer, String> oldStores = new HashMap<>();
      for (int s = 0; s < SHARDS; s++) {
        oldStores.put(s, cluster.node(2).shards().storeId(s));
      }

      cluster.stop(2);
      deleteTree(cluster.dataDir(2));
      // Written while node-2 is away: its rebuild must carry these too.
      router.decide(1, "while-away", ids("away-", 200));
      cluster.start(2);

      await("node-2 is in sync again for every shard, with new stores", () -> {
        Map<Integer, ShardState> states = cluster.node(0).clusterMember().shardStates();
        for (int s = 0; s < SHARDS; s++) {
          String store = states.get(s).isr().get("node-2");
          if (store == null || store.equals(oldStores.get(s))
              || !store.equals(cluster.node(2).shards().storeId(s))) {
            return false;
          }
        }
        return true;
      });
      for (int s = 0; s < SHARDS; s++) {
        assertNotEquals(oldStores.get(s), cluster.node(2).shards().storeId(s));
      }
      // Every copy holds what its leader holds, namespace by namespace.
      router.decide(2, "after", ids("after-", 100));
      await("node-2's copies hold what every other replica holds", () ->
          keysPerShard(cluster.node(2)).equals(keysPerShard(cluster.node(0)))
              && keysPerShard(cluster.node(0)).equals(keysPerShard(cluster.node(1))));

      // The rebuilt node can lead: stop another node, and every id is still there.
      cluster.stop(0);
      router.decide(1, "after-stop", ids("before-", 400));
      history.assertInvariants(cluster);
    }
  }

  @Test
  void aFollowerBehindTheNewLeaderCatchesUpFromItsEntriesNotFromASnapshot() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, 3, SHARDS)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ShardState before = cluster.node(0).clusterMember().shardStates().get(0);
      int leader = index(before.leader());
      int behind = index(before.replicas().stream().filter(r -> !r.equals(before.leader()))
          .reduce((a, b) -> b).orElseThrow());
      String behindStore = cluster.node(behind).shards().storeId(0);

      // The leader applies entries that reach one follower but not the other, then stops: the
      // follower that has them leads, the other is behind it.
      cluster.replicationInbound(behind).cut();
      List<String> ids = new ArrayList<>();
      for (int i = 0; ids.size() < 20; i++) {
        if (ShardHash.shardOf("cluster.test", "behind-" + i, SHARDS) == 0) {
          ids.add("behind-" + i);
        }
      }
      try {
        cluster.stub(leader).withDeadlineAfter(1, TimeUnit.SECONDS).checkAndInsert(
            CheckAndInsertRequest.newBuilder().setNamespace("cluster.test")
                .setAttemptToken("behind").addAllMessageIds(ids).build());
      } catch (io.grpc.StatusRuntimeException notCommitted) {
        // Expected: the cut follower is in sync, so nothing commits without it.
      }
      cluster.stop(leader);
      await("another node leads shard 0", () -> {
        ShardState s = cluster.node(behind).clusterMember().shardStates().get(0);
        return s.hasLeader() && !s.leader().equals(before.leader());
      });
      cluster.replicationInbound(behind).heal();

      ShardState after = cluster.node(behind).clusterMember().shardStates().get(0);
      await("the follower that was behind holds the new leader's entries", () ->
          cluster.node(behind).shards().writer(0)
              .submit(store -> store == null ? -1 : store.position().epoch()).join()
              >= after.epoch());
      assertTrue(cluster.node(behind).clusterMember().shardStates().get(0)
          .inSync("node-" + behind), "and stayed in sync");
      assertEquals(behindStore, cluster.node(behind).shards().storeId(0),
          "caught up by resending entries: its store was not replaced by a snapshot");
    }
  }

  private static int index(String nodeId) {
    return Integer.parseInt(nodeId.substring("node-".length()));
  }

  private static void deleteTree(Path root) throws Exception {
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
