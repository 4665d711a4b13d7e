package dev.dedupe.server.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import dev.dedupe.v1.GetNamespaceStatsResponse;
import dev.dedupe.v1.NodeNamespaceStats;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The rule for adding nodes up, on figures a cluster test cannot easily produce: a node whose
 * disk budget shortened its window, and a node that could not be asked.
 */
class ClusterStatsTotalsTest {

  private static NodeNamespaceStats node(String id, long keys, Duration effective, long oldestMillis) {
    return NodeNamespaceStats.newBuilder().setNodeId(id).setAddress(id + ":50051")
        .setKeysHeld(keys).setBytesHeld(keys * 10)
        .setEffectiveWindow(Durations.fromMillis(effective.toMillis()))
        .setOldestBucketStart(Timestamps.fromMillis(oldestMillis)).build();
  }

  @Test
  void sumsKeysTakesTheShortestWindowAndTheOldestBucketOfTheNodesThatAnswered() {
    GetNamespaceStatsResponse totals = ClusterStats.totals("orders", Duration.ofHours(24), List.of(
        node("node-b", 5, Duration.ofHours(24), 3_000_000),
        node("node-a", 7, Duration.ofHours(9), 2_000_000),
        NodeNamespaceStats.newBuilder().setNodeId("node-c").setAddress("")
            .setError("not registered in ZooKeeper now").build()));
    assertEquals(12, totals.getKeysHeld());
    assertEquals(120, totals.getBytesHeld());
    assertEquals(Duration.ofHours(24).toSeconds(), totals.getWindow().getSeconds());
    assertEquals(Duration.ofHours(9).toSeconds(), totals.getEffectiveWindow().getSeconds(),
        "an id older than 9 h may be NEW again on node-a's shards");
    assertEquals(2_000_000, Timestamps.toMillis(totals.getOldestBucketStart()));
    assertEquals(1, totals.getNodesUnanswered());
    assertEquals(List.of("node-a", "node-b", "node-c"),
        totals.getNodesList().stream().map(NodeNamespaceStats::getNodeId).toList());
  }

  @Test
  void nodesThatHoldNothingLeaveTheOldestBucketUnset() {
    GetNamespaceStatsResponse totals = ClusterStats.totals("empty", Duration.ofHours(1), List.of(
        NodeNamespaceStats.newBuilder().setNodeId("")
            .setEffectiveWindow(Durations.fromSeconds(3600)).build()));
    assertEquals(0, totals.getKeysHeld());
    assertEquals(false, totals.hasOldestBucketStart());
    assertEquals(3600, totals.getEffectiveWindow().getSeconds());
  }
}
