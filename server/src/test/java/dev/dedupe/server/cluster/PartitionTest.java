package dev.dedupe.server.cluster;

import static dev.dedupe.server.cluster.ClusterFixture.await;
import static dev.dedupe.server.cluster.ClusterFixture.ids;
import static dev.dedupe.server.cluster.ClusterFixture.keysPerShard;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A leader cut off from ZooKeeper and from its peers' replication traffic (its own appends to
 * its followers still get through: the harder, asymmetric case) is the minority: once the
 * majority has elected new leaders, it acknowledges nothing, though it still believes it leads
 * and the ZooKeeper-outage rule lets it try. After the partition heals, its diverged copies are
 * rebuilt and every replica is identical again.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class PartitionTest {

  private static final int SHARDS = 4;
  private static final String NS = "cluster.test";

  @TempDir Path dir;

  @Test
  void aPartitionedLeaderAcknowledgesNothingOnceTheMajorityHasMovedOn() throws Exception {
    try (ClusterFixture cluster = ClusterFixture.partitionable(dir, 3, SHARDS)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      router.decide(1, "before", ids("before-", 300));
      List<Integer> ledByZero = new ArrayList<>();
      cluster.node(1).clusterMember().shardStates().forEach((shard, s) -> {
        if (s.isLeader("node-0")) {
          ledByZero.add(shard);
        }
      });
      assertFalse(ledByZero.isEmpty(), "node-0 leads a shard");
      Map<Integer, Long> epochsBefore = new HashMap<>();
      cluster.node(1).clusterMember().shardStates().forEach((s, st) -> epochsBefore.put(s, st.epoch()));

      cluster.zooKeeperLink(0).cut();
      cluster.replicationInbound(0).cut();
      await("the majority elected new leaders for node-0's shards", () -> {
        Map<Integer, ShardState> now = cluster.node(1).clusterMember().shardStates();
        return ledByZero.stream().allMatch(s -> now.get(s).hasLeader()
            && !now.get(s).isLeader("node-0") && now.get(s).epoch() > epochsBefore.get(s));
      });
      assertTrue(cluster.node(0).clusterMember().shardStates().values().stream()
          .anyMatch(s -> s.isLeader("node-0")), "node-0 still believes it leads");

      // The minority: nothing sent to node-0 is acknowledged NEW any more.
      // Ids of the shards it believes it leads, so that it decides them itself, not forwards.
      List<String> toMinority = new ArrayList<>();
      for (int i = 0; toMinority.size() < 60; i++) {
        if (ledByZero.contains(ShardHash.shardOf(NS, "minority-" + i, SHARDS))) {
          toMinority.add("minority-" + i);
        }
      }
      for (int attempt = 0; attempt < 3; attempt++) {
        try {
          for (IdResult r : cluster.stub(0).checkAndInsert(CheckAndInsertRequest.newBuilder()
              .setNamespace(NS).setAttemptToken("minority-" + attempt)
              .addAllMessageIds(toMinority).build()).getResultsList()) {
            assertNotEquals(Verdict.VERDICT_NEW, r.getVerdict(),
                "a partitioned leader acknowledged NEW: " + r);
          }
        } catch (StatusRuntimeException refused) {
          // UNAVAILABLE: not replicated in time. Nothing acknowledged, as required.
        }
      }
      // The majority: every shard serves, every id acknowledged before is still there.
      router.decide(1, "during", ids("during-", 200));
      router.decide(2, "before-again", ids("before-", 300));

      cluster.zooKeeperLink(0).heal();
      cluster.replicationInbound(0).heal();
      await("node-0 is in sync again everywhere", () -> cluster.node(1).clusterMember()
          .shardStates().values().stream().allMatch(s -> s.inSync("node-0")));
      await("every replica holds the same data", () -> {
        Map<Integer, Map<String, Long>> first = keysPerShard(cluster.node(0));
        return first.equals(keysPerShard(cluster.node(1)))
            && first.equals(keysPerShard(cluster.node(2)));
      });
      history.assertInvariants(cluster);
    }
  }
}
