package dev.dedupe.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.v1.GetNamespaceStatsRequest;
import dev.dedupe.v1.GetNamespaceStatsResponse;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.NodeNamespaceStats;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * GetNamespaceStats in a three-node cluster over real ZooKeeper and gRPC: any node answers
 * for the whole cluster with a per-node breakdown, and says which nodes it could not ask.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ClusterStatsTest {

  private static final int SHARDS = 12;
  private static final String NS = "cluster.test";

  @TempDir Path dir;
  private ClusterFixture cluster;

  @AfterEach
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  /**
   * Starts three nodes with {@code replicationFactor} replicas per shard, inserts {@code n} ids
   * through their leaders, and returns how many each node leads.
   */
  private Map<String, Long> insertThroughOwners(int n, int replicationFactor) throws Exception {
    cluster = new ClusterFixture(dir, 3, SHARDS, 3, replicationFactor);
    cluster.awaitServing();
    cluster.awaitInSync();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add("stats-" + i);
    }
    ClusterTest.History history = new ClusterTest.History();
    new ClusterTest.Router(cluster, history).decide(0, "stats", ids);
    assertEquals(n, history.newIds().size(), "every id was recorded once");
    GetShardMapResponse map = cluster.stub(0).getShardMap(GetShardMapRequest.getDefaultInstance());
    Map<String, Long> perNode = new TreeMap<>();
    for (String id : ids) {
      perNode.merge(map.getOwners(ShardHash.shardOf(NS, id, SHARDS)).getNodeId(), 1L, Long::sum);
    }
    assertEquals(3, perNode.size(), "the ids spread over all three nodes: " + perNode);
    return perNode;
  }

  private GetNamespaceStatsResponse stats(int node) {
    return cluster.stub(node).getNamespaceStats(
        GetNamespaceStatsRequest.newBuilder().setNamespace(NS).build());
  }

  @Test
  void anyNodeReportsTheWholeClusterWithOneEntryPerNode() throws Exception {
    // Three replicas of every id: each is counted once, by the node leading its shard.
    Map<String, Long> perNode = insertThroughOwners(300, 3);
    for (int asked = 0; asked < 3; asked++) {
      GetNamespaceStatsResponse s = stats(asked);
      assertEquals(300, s.getKeysHeld(), "asked node-" + asked + ": " + s);
      assertEquals(0, s.getNodesUnanswered());
      assertEquals(List.of("node-0", "node-1", "node-2"),
          s.getNodesList().stream().map(NodeNamespaceStats::getNodeId).toList());
      long sum = 0;
      long bytes = 0;
      for (int i = 0; i < 3; i++) {
        NodeNamespaceStats n = s.getNodes(i);
        assertEquals("", n.getError());
        assertEquals(cluster.node(i).advertisedAddress(), n.getAddress());
        assertEquals(perNode.get(n.getNodeId()), n.getKeysHeld(), "keys on " + n.getNodeId());
        assertTrue(n.getBytesHeld() > 0, "bytes on " + n.getNodeId());
        assertTrue(n.hasOldestBucketStart());
        assertEquals(s.getWindow(), n.getEffectiveWindow(), "no disk-budget age-out here");
        sum += n.getKeysHeld();
        bytes += n.getBytesHeld();
      }
      assertEquals(s.getKeysHeld(), sum, "the total is the sum of the entries");
      assertEquals(s.getBytesHeld(), bytes);
    }

    // What nodes send each other: the node's own figures, nothing asked of the others.
    GetNamespaceStatsResponse own = cluster.stub(1).getNamespaceStats(GetNamespaceStatsRequest
        .newBuilder().setNamespace(NS).setThisNodeOnly(true).build());
    assertEquals(perNode.get("node-1"), own.getKeysHeld());
    assertEquals(1, own.getNodesCount());
    assertEquals("node-1", own.getNodes(0).getNodeId());

    StatusRuntimeException invalid = assertThrows(StatusRuntimeException.class,
        () -> cluster.stub(2).getNamespaceStats(
            GetNamespaceStatsRequest.newBuilder().setNamespace("no spaces").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, invalid.getStatus().getCode());
    assertTrue(invalid.getStatus().getDescription().contains("namespace"),
        invalid.getStatus().getDescription());
  }

  @Test
  void withANodeDownTheAnswerStillComesAndNamesIt() throws Exception {
    // One replica per shard, so that the stopped node stays the owner of its shards.
    Map<String, Long> perNode = insertThroughOwners(300, 1);
    cluster.stop(2);
    for (int asked = 0; asked < 2; asked++) {
      GetNamespaceStatsResponse s = stats(asked);
      assertEquals(1, s.getNodesUnanswered(), s.toString());
      assertEquals(perNode.get("node-0") + perNode.get("node-1"), s.getKeysHeld(),
          "the totals cover the nodes that answered");
      assertEquals(List.of("node-0", "node-1", "node-2"),
          s.getNodesList().stream().map(NodeNamespaceStats::getNodeId).toList());
      NodeNamespaceStats down = s.getNodes(2);
      assertFalse(down.getError().isEmpty(), "the stopped node is listed with an error");
      assertEquals(0, down.getKeysHeld());
      assertFalse(down.hasEffectiveWindow());
      for (int i = 0; i < 2; i++) {
        assertEquals("", s.getNodes(i).getError());
        assertEquals(perNode.get("node-" + i), s.getNodes(i).getKeysHeld());
      }
    }
  }

  @Test
  void whenALeaderStopsItsFollowersTakeOverAndEveryIdIsStillCountedOnce() throws Exception {
    insertThroughOwners(300, 3);
    cluster.stop(2);
    for (int asked = 0; asked < 2; asked++) {
      int node = asked;
      ClusterFixture.await("node-" + node + " counts every id, node-2's shards led elsewhere",
          () -> stats(node).getKeysHeld() == 300);
      GetNamespaceStatsResponse s = stats(node);
      assertEquals(List.of("node-0", "node-1"),
          s.getNodesList().stream().map(NodeNamespaceStats::getNodeId).toList(),
          "only leaders are asked: " + s);
      assertEquals(0, s.getNodesUnanswered());
    }
  }
}
