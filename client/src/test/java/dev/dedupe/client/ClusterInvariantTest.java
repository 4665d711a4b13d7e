package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cluster.EmbeddedZooKeeper;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
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
import java.util.concurrent.atomic.AtomicInteger;
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

  /** Waits until {@code decided} has grown by {@code more} since {@code from}. */
  private static void awaitDecisions(AtomicInteger decided, int from, int more, String phase)
      throws InterruptedException {
    TestNode.awaitCondition(PHASE_WAIT, more + " more ids decided " + phase
        + " (" + (decided.get() - from) + " so far)", () -> decided.get() - from >= more);
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
      AtomicInteger decided = new AtomicInteger();
      AtomicBoolean running = new AtomicBoolean(true);
      ExecutorService callers = Executors.newFixedThreadPool(6);
      try (DedupeClient client = DedupeClient.builder()
          .target(nodes[0].advertisedAddress())
          // A call whose ids include the stopped node's fails after about 5 s; that is fine (an
          // error proves nothing either way), and the other ids of its batch are decided.
          .maxAttempts(20)
          .backoff(Duration.ofMillis(20), Duration.ofMillis(250))
          .requestDeadline(Duration.ofSeconds(5))
          .build()) {
        List<Future<?>> workers = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
          int caller = t;
          workers.add(callers.submit(() -> {
            for (int round = 0; running.get(); round++) {
              List<String> ids = new ArrayList<>();
              for (int k = 0; k < 10; k++) {
                ids.add("shared-" + ThreadLocalRandom.current().nextInt(3_000));
              }
              ids.add("own-" + caller + "-" + round);
              List<Decision> answered;
              try {
                answered = client.checkAndInsert("orders", ids);
              } catch (PartialBatchException e) {
                answered = e.decisions().stream().filter(d -> d != null).toList();
              } catch (DedupeException e) {
                continue; // Not acknowledged: proves nothing either way.
              }
              history.addAll(answered);
              decided.addAndGet(answered.size());
            }
            return null;
          }));
        }

        awaitDecisions(decided, 0, DECISIONS_PER_PHASE, "before any fault");
        nodes[2].close();
        int atStop = decided.get();
        awaitDecisions(decided, atStop, DECISIONS_PER_PHASE, "while node-2 was stopped");
        nodes[2] = node(zk.connectString(), 2);
        nodes[1].clusterMember().zookeeper().getZookeeperClient().getZooKeeper().getTestable()
            .injectSessionExpiration();
        TestNode.awaitReady(nodes);
        // node-2 came back on another port: wait until the client routes to it, then until the
        // callers have had more ids decided with every node serving.
        String restarted = nodes[2].advertisedAddress();
        TestNode.awaitCondition(PHASE_WAIT, "the client routing to the restarted node-2",
            () -> Arrays.asList(client.routingTable().owners()).contains(restarted));
        int atRestart = decided.get();
        awaitDecisions(decided, atRestart, DECISIONS_PER_PHASE, "after the restart");
        running.set(false);
        for (Future<?> w : workers) {
          w.get(PHASE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        }

        Map<String, String> winner = new HashMap<>();
        for (Decision d : history) {
          if (d.isNew()) {
            String previous = winner.putIfAbsent(d.messageId(), d.attemptToken());
            assertTrue(previous == null || previous.equals(d.attemptToken()),
                d.messageId() + " was NEW for two attempts: " + previous + ", " + d.attemptToken());
          }
        }
        assertFalse(winner.isEmpty(), "no id was ever NEW");
        List<String> acked = new ArrayList<>(winner.keySet());
        for (int from = 0; from < acked.size(); from += 1_000) {
          List<String> part = acked.subList(from, Math.min(acked.size(), from + 1_000));
          for (Decision d : client.check("orders", part)) {
            assertEquals(Verdict.DUPLICATE, d.verdict(), d.messageId() + " was acknowledged NEW");
          }
        }
      } finally {
        running.set(false);
        callers.shutdownNow();
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
