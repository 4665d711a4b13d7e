package dev.dedupe.server.cluster;

import static dev.dedupe.server.cluster.ClusterFixture.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.replication.VersionedShardState;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.ShardOwner;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Whole nodes, three replicas per shard: every node opens and publishes every replica it holds,
 * and when a shard's leader stops, the controller elects an in-sync follower and every node's
 * shard map follows. Until the replication runtime lands, followers join the in-sync set only
 * when a test writes it as the leader would (through {@link ZkInSyncWriter}).
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ShardFailoverTest {

  private static final int SHARDS = 4;

  @TempDir Path dir;

  @Test
  void whenALeaderStopsAnInSyncFollowerLeadsAndTheMapFollows() throws Exception {
    try (ClusterFixture cluster = new ClusterFixture(dir, 3, SHARDS)) {
      cluster.awaitServing();
      DedupeNode any = cluster.node(0);
      Map<Integer, ShardState> states = any.clusterMember().shardStates();
      for (ShardState s : states.values()) {
        assertEquals(3, s.replicas().size(), "a replica on every node: " + s);
      }
      for (int i = 0; i < 3; i++) {
        DedupeNode n = cluster.node(i);
        for (int s = 0; s < SHARDS; s++) {
          assertTrue(n.shards().isOpen(s), "node-" + i + " holds shard " + s + " open");
        }
      }

      // Shard 0's leader brings every follower into its in-sync set, with their open stores.
      // (The test once wrote that set itself, racing the leader's own write of it.)
      cluster.awaitInSync();
      VersionedShardState full =
          ClusterState.readShard(zk(cluster, 0), paths(), 0).orElseThrow();
      String leader = full.state().leader();
      int leaderIndex = Integer.parseInt(leader.substring("node-".length()));
      assertEquals(3, full.state().isr().size(), "every replica in sync: " + full.state());

      DedupeNode stopped = cluster.node(leaderIndex);
      cluster.stop(leaderIndex);
      int other = (leaderIndex + 1) % 3;
      await("another node leads shard 0 in every node's map", () -> {
        for (DedupeNode n : cluster.running()) {
          ShardOwner o = n.clusterMember() == null ? null
              : cluster.stub(n.advertisedAddress())
                  .getShardMap(GetShardMapRequest.getDefaultInstance()).getOwners(0);
          if (o == null || o.getNodeId().equals(leader) || o.getAddress().isEmpty()) {
            return false;
          }
        }
        return true;
      });
      ShardState elected = cluster.node(other).clusterMember().shardStates().get(0);
      assertEquals(full.state().epoch() + 1, elected.epoch());
      assertTrue(full.state().inSync(elected.leader()));
      assertFalse(elected.inSync(leader), "the stopped leader left the in-sync set");
      // A stop hands over first; if the stopped node was the controller, it counted it.
      long elections = cluster.running().stream()
          .mapToLong(n -> n.clusterMember().controller().electionCount()).sum()
          + stopped.clusterMember().controller().electionCount();
      assertTrue(elections >= 1, "the election is counted");
      ShardOwner owner = cluster.stub(other).getShardMap(GetShardMapRequest.getDefaultInstance())
          .getOwners(0);
      assertEquals(elected.leader(), owner.getNodeId());
      assertEquals(elected.epoch(), owner.getEpoch());
      await("the new leader serves shard 0", () -> cluster.running().stream()
          .filter(n -> n.clusterMember().nodeId().equals(elected.leader()))
          .allMatch(DedupeNode::isReady));
    }
  }

  private static org.apache.curator.framework.CuratorFramework zk(ClusterFixture c, int i) {
    return c.node(i).clusterMember().zookeeper();
  }

  private static ClusterPaths paths() {
    return ClusterPaths.forCluster(ClusterFixture.CLUSTER);
  }
}
