package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cluster.EmbeddedZooKeeper;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The invariants of a three-node cluster as many concurrent callers see them through one
 * client pointed at one node, while a node restarts and another loses its ZooKeeper session:
 * every id is NEW for at most one attempt, and every id acknowledged NEW is DUPLICATE after.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ClusterInvariantTest {

  private static final int SHARDS = 12;

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
      Queue<Decision> history = new ConcurrentLinkedQueue<>();
      AtomicBoolean running = new AtomicBoolean(true);
      ExecutorService callers = Executors.newFixedThreadPool(6);
      try (DedupeClient client = DedupeClient.builder()
          .target(nodes[0].advertisedAddress())
          .maxAttempts(60)
          .backoff(Duration.ofMillis(20), Duration.ofMillis(250))
          .requestDeadline(Duration.ofSeconds(5))
          .build()) {
        List<Future<?>> workers = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
          int caller = t;
          workers.add(callers.submit(() -> {
            for (int round = 0; running.get() && round < 2_000; round++) {
              List<String> ids = new ArrayList<>();
              for (int k = 0; k < 10; k++) {
                ids.add("shared-" + ThreadLocalRandom.current().nextInt(3_000));
              }
              ids.add("own-" + caller + "-" + round);
              try {
                history.addAll(client.checkAndInsert("orders", ids));
              } catch (PartialBatchException e) {
                e.decisions().stream().filter(d -> d != null).forEach(history::add);
              } catch (DedupeException e) {
                // Not acknowledged: proves nothing either way.
              }
            }
            return null;
          }));
        }

        Thread.sleep(500);
        nodes[2].close();
        Thread.sleep(500);
        nodes[2] = node(zk.connectString(), 2);
        nodes[1].clusterMember().zookeeper().getZookeeperClient().getZooKeeper().getTestable()
            .injectSessionExpiration();
        TestNode.awaitReady(nodes);
        Thread.sleep(500);
        running.set(false);
        for (Future<?> w : workers) {
          w.get(2, TimeUnit.MINUTES);
        }

        Map<String, String> winner = new HashMap<>();
        for (Decision d : history) {
          if (d.isNew()) {
            String previous = winner.putIfAbsent(d.messageId(), d.attemptToken());
            assertTrue(previous == null || previous.equals(d.attemptToken()),
                d.messageId() + " was NEW for two attempts: " + previous + ", " + d.attemptToken());
          }
        }
        assertTrue(winner.size() > 1_000, "only " + winner.size() + " ids were decided");
        List<String> acked = new ArrayList<>(winner.keySet());
        for (int from = 0; from < acked.size(); from += 1_000) {
          List<String> part = acked.subList(from, Math.min(acked.size(), from + 1_000));
          for (Decision d : client.check("orders", part)) {
            assertEquals(Verdict.DUPLICATE, d.verdict(), d.messageId() + " was acknowledged NEW");
          }
        }
      } finally {
        callers.shutdownNow();
        for (DedupeNode n : nodes) {
          if (n != null) {
            n.close();
          }
        }
      }
    }
  }
}
