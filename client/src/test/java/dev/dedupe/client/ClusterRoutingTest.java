package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cluster.EmbeddedZooKeeper;
import dev.dedupe.v1.CheckAndInsertRequest;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real two-node cluster (embedded ZooKeeper, shards split by the controller): the client,
 * given one node, learns the map and sends each id straight to its owner.
 */
class ClusterRoutingTest {

  private static final int SHARDS = 8;

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static DedupeNode node(Path dir, String zk, int i) {
    return TestNode.clusterMember(dir, zk, "client-test", i, SHARDS, 2);
  }

  @Test
  void eachIdGoesStraightToItsOwner(@TempDir Path dir) throws Exception {
    try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), freePort());
        DedupeNode a = node(dir, zk.connectString(), 0);
        DedupeNode b = node(dir, zk.connectString(), 1)) {
      TestNode.awaitReady(a, b);

      Map<String, CallRecorder> perNode = new ConcurrentHashMap<>();
      Map<String, List<CheckAndInsertRequest>> firstCall = new HashMap<>();
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        ids.add("c-" + i);
      }
      try (DedupeClient client = DedupeClient.builder()
          .target(a.advertisedAddress())
          .linger(Duration.ofMillis(1))
          .channelFactory(address -> Grpc.newChannelBuilder(address, InsecureChannelCredentials.create())
              .intercept(perNode.computeIfAbsent(address, x -> new CallRecorder()))
              .build())
          .build()) {
        List<Decision> ds = client.checkAndInsert("cluster", ids);
        assertEquals(ids, ds.stream().map(Decision::messageId).toList());
        assertTrue(ds.stream().allMatch(Decision::isNew), ds.toString());
        for (Map.Entry<String, CallRecorder> e : perNode.entrySet()) {
          firstCall.put(e.getKey(), e.getValue().inserts());
        }
        assertEquals(List.of(Verdict.DUPLICATE, Verdict.DUPLICATE),
            client.checkAndInsert("cluster", ids.subList(0, 2)).stream().map(Decision::verdict).toList());
        OnceOutcome once = client.once("cluster", "job-1", () -> "ok".getBytes(StandardCharsets.UTF_8));
        assertInstanceOf(OnceOutcome.Executed.class, once);
      }

      Set<String> nodes = Set.of(a.advertisedAddress(), b.advertisedAddress());
      assertEquals(nodes, perNode.keySet(), "the client should have talked to both nodes");
      Set<String> seenIds = new HashSet<>();
      int sent = 0;
      for (String node : nodes) {
        List<CheckAndInsertRequest> first = firstCall.getOrDefault(node, List.of());
        assertFalse(first.isEmpty(), node + " got none of the ids");
        for (CheckAndInsertRequest r : first) {
          sent += r.getMessageIdsCount();
          seenIds.addAll(r.getMessageIdsList());
        }
      }
      // Each id was sent once, to one node, and that node decided it: had an id gone to the
      // wrong node, it would have been answered UNAVAILABLE and sent a second time.
      assertEquals(300, seenIds.size());
      assertEquals(300, sent, "some ids were sent twice (per-id UNAVAILABLE from a non-owner?)");
    }
  }

  @Test
  void aShardMapChangeReachesTheClientThroughTheWatch(@TempDir Path dir) throws Exception {
    try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), freePort());
        DedupeNode a = node(dir, zk.connectString(), 0);
        DedupeNode b = node(dir, zk.connectString(), 1)) {
      TestNode.awaitReady(a, b);
      try (DedupeClient client = DedupeClient.builder().target(a.advertisedAddress()).build()) {
        client.checkAndInsert("cluster", "warm-up");
        String before = client.routingTable().owners()[0];
        DedupeNode newOwner = before.equals(a.advertisedAddress()) ? b : a;
        DedupeNode controller =
            a.clusterMember().controller().isLeader() ? a : b;
        // Ownership only, for the test: real moves copy the shard's data first.
        controller.clusterMember().controller().moveShard(0, newOwner.clusterMember().nodeId());

        // No call is made that could tell the client: only the watch can.
        TestNode.awaitCondition(Duration.ofMinutes(1), "the client hearing of the move",
            () -> client.routingTable().owners()[0].equals(newOwner.advertisedAddress()));
        assertEquals(2, client.routingTable().epochs()[0]);
      }
    }
  }
}
