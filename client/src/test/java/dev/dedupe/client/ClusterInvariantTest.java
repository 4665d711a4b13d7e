package dev.dedupe.client;


import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cluster.EmbeddedZooKeeper;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The invariants of a three-node cluster as many concurrent callers see them through one
 * client pointed at one node, while a node restarts and another loses its ZooKeeper session:
 * every id is NEW for at most one attempt, and every id acknowledged NEW is DUPLICATE after.
 *
 * <p>The faults are paced by what the callers have done, not by time: each phase waits until
 * the callers have had a number of ids decided (with a deadline that is generous on a busy
 * machine), so a slow machine makes the test slower, never weaker.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class ClusterInvariantTest {

  private static final int SHARDS = 12;
  /** Ids the callers must have had decided in each phase before the test moves on. */
  private static final int DECISIONS_PER_PHASE = 200;
  private static final Duration PHASE_WAIT = Duration.ofMinutes(2);

  @TempDir Path dir;

  private DedupeNode node(String zk, int i) {
    return TestNode.clusterMember(dir, zk, "invariants", i, SHARDS, 3);
  }

  @Test
  void everyIdIsNewOnceAndAcknowledgedIdsSurviveRestartsAndSessionLoss() throws Exception {
    int zkPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      zkPort = s.getLocalPort();
    }
    DedupeNode[] nodes = new DedupeNode[3];
    try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), zkPort)) {
      for (int i = 0; i < 3; i++) {
        nodes[i] = node(zk.connectString(), i);
      }
      TestNode.awaitReady(nodes);
      try (DedupeClient client = DedupeClient.builder()
          .target(nodes[0].advertisedAddress())
          // A call whose ids include the stopped node's fails after about 5 s; that is fine (an
          // error proves nothing either way), and the other ids of its batch are decided.
          .maxAttempts(20)
          .backoff(Duration.ofMillis(20), Duration.ofMillis(250))
          .requestDeadline(Duration.ofSeconds(5))
          .build();
          CallerLoad load = new CallerLoad(client, "orders", 6, false)) {
        load.awaitDecisions(0, DECISIONS_PER_PHASE, PHASE_WAIT, "before any fault");
        nodes[2].close();
        load.awaitDecisions(load.decided(), DECISIONS_PER_PHASE, PHASE_WAIT,
            "while node-2 was stopped");
        nodes[2] = node(zk.connectString(), 2);
        nodes[1].clusterMember().zookeeper().getZookeeperClient().getZooKeeper().getTestable()
            .injectSessionExpiration();
        TestNode.awaitReady(nodes);
        // node-2 came back on another port: wait until the client routes to it, then until the
        // callers have had more ids decided with every node serving.
        String restarted = nodes[2].advertisedAddress();
        TestNode.awaitCondition(PHASE_WAIT, "the client routing to the restarted node-2",
            () -> Arrays.asList(client.routingTable().owners()).contains(restarted));
        load.awaitDecisions(load.decided(), DECISIONS_PER_PHASE, PHASE_WAIT, "after the restart");
        load.stop(PHASE_WAIT);
        load.assertInvariants();
      } finally {
        // Before ZooKeeper goes: a node closing without it waits for it.
        for (DedupeNode n : nodes) {
          if (n != null) {
            n.close();
          }
        }
      }
    }
  }
}
