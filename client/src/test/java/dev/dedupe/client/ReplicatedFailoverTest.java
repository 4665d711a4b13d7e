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
      Queue<Decision> history = new ConcurrentLinkedQueue<>();
      Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
      AtomicInteger decided = new AtomicInteger();
      AtomicBoolean running = new AtomicBoolean(true);
      ExecutorService callers = Executors.newFixedThreadPool(6);
      try (DedupeClient client = DedupeClient.builder()
          .target(nodes[0].advertisedAddress())
          // A retry budget of several seconds: the failover of a stopped node's shards takes
          // the controller's election and the new leaders' first commit.
          .maxAttempts(60)
          .backoff(Duration.ofMillis(20), Duration.ofMillis(500))
          .requestDeadline(Duration.ofSeconds(10))
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
              try {
                List<Decision> answered = client.checkAndInsert("orders", ids);
                history.addAll(answered);
                decided.addAndGet(answered.size());
              } catch (RuntimeException e) {
                errors.add(e);
              }
            }
            return null;
          }));
        }

        awaitDecisions(decided, 0, "before the stop");
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
        awaitDecisions(decided, decided.get(), "after the failover");
        running.set(false);
        for (Future<?> w : workers) {
          w.get(PHASE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        }
        assertEquals(List.of(), errors.stream().map(Throwable::toString).toList(),
            "no caller saw an error");

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

  private static void awaitDecisions(AtomicInteger decided, int from, String phase)
      throws InterruptedException {
    TestNode.awaitCondition(PHASE_WAIT, DECISIONS_PER_PHASE + " more ids decided " + phase
        + " (" + (decided.get() - from) + " so far)",
        () -> decided.get() - from >= DECISIONS_PER_PHASE);
  }
}
