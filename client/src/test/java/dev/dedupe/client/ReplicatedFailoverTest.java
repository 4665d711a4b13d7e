package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cluster.EmbeddedZooKeeper;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a caller of a replicated cluster relies on when a leader goes: the client follows the
 * failover with its attempt tokens, so no call surfaces an error while another in-sync replica
 * takes over within the retry budget, no id is NEW for two attempts, and every id acknowledged
 * NEW (by the old leader included) is DUPLICATE afterwards.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class ReplicatedFailoverTest {

  private static final int SHARDS = 8;
  private static final int DECISIONS_PER_PHASE = 300;
  private static final Duration PHASE_WAIT = Duration.ofMinutes(2);

  @TempDir Path dir;

  @Test
  void callersSeeNoErrorWhenALeaderStopsAndEveryAcknowledgedIdSurvives() throws Exception {
    int zkPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      zkPort = s.getLocalPort();
    }
    DedupeNode[] nodes = new DedupeNode[3];
    try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), zkPort)) {
      for (int i = 0; i < 3; i++) {
        nodes[i] = TestNode.clusterMember(dir, zk.connectString(), "failover", i, SHARDS, 3, 0, 3);
      }
      TestNode.awaitReady(nodes);
      TestNode.awaitCondition(PHASE_WAIT, "every replica in sync", () -> nodes[0].clusterMember()
          .shardStates().values().stream().allMatch(s -> s.isr().size() == 3));
      try (DedupeClient client = DedupeClient.builder()
          .target(nodes[0].advertisedAddress())
          // A retry budget of several seconds: the failover of a stopped node's shards takes
          // the controller's election and the new leaders' first commit.
          .maxAttempts(60)
          .backoff(Duration.ofMillis(20), Duration.ofMillis(500))
          .requestDeadline(Duration.ofSeconds(10))
          .build();
          CallerLoad load = new CallerLoad(client, "orders", 6, true)) {
        load.awaitDecisions(0, DECISIONS_PER_PHASE, PHASE_WAIT, "before the stop");
        // Stop the node that leads the most shards: its leaderships go to in-sync followers.
        int leader = 0;
        for (int i = 1; i < 3; i++) {
          if (led(nodes[i]) > led(nodes[leader])) {
            leader = i;
          }
        }
        assertTrue(led(nodes[leader]) > 0, "some node leads a shard");
        String stopped = nodes[leader].clusterMember().nodeId();
        nodes[leader].close();
        nodes[leader] = null;
        DedupeNode survivor = nodes[(leader + 1) % 3];
        TestNode.awaitCondition(PHASE_WAIT, "every shard led by a live node", () -> survivor
            .clusterMember().shardStates().values().stream()
            .allMatch(s -> s.hasLeader() && !s.leader().equals(stopped)));
        load.awaitDecisions(load.decided(), DECISIONS_PER_PHASE, PHASE_WAIT, "after the failover");
        load.stop(PHASE_WAIT);
        assertEquals(List.of(), load.errors(), "no caller saw an error");
        load.assertInvariants();
      } finally {
        for (DedupeNode n : nodes) {
          if (n != null) {
            n.close();
          }
        }
      }
    }
  }

  private static long led(DedupeNode node) {
    String id = node.clusterMember().nodeId();
    return node.clusterMember().shardStates().values().stream()
        .filter(s -> s.isLeader(id)).count();
  }
}
