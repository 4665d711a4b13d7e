package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cluster.Controller;
import dev.dedupe.server.cluster.EmbeddedZooKeeper;
import dev.dedupe.server.replication.ShardState;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Leadership moves while callers keep calling through the Java client, with every decision
 * recorded: an admin's transfer of leaderships, and a rolling restart of every node (each one
 * stopped gracefully, so it hands its leaderships over first, then started again on its data
 * directory). No caller sees an error, no id is NEW for two attempts, every id acknowledged NEW
 * is DUPLICATE afterwards, and a transfer rebuilds no one: the old leader keeps its store and
 * stays in sync.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class HandoverUnderLoadTest {

  private static final int SHARDS = 8;
  private static final int CALLERS = 6;
  private static final int DECISIONS_PER_PHASE = 300;
  private static final Duration PHASE_WAIT = Duration.ofMinutes(2);

  @TempDir Path dir;

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static DedupeClient client(DedupeNode[] nodes) {
    return DedupeClient.builder()
        .targets(Arrays.stream(nodes).map(DedupeNode::advertisedAddress).toList())
        // The default retry settings: a user relies on them to ride out a rolling restart.
        .build();
  }

  private static Map<Integer, ShardState> states(DedupeNode[] nodes) {
    return Arrays.stream(nodes).filter(n -> n != null).findFirst().orElseThrow()
        .clusterMember().shardStates();
  }

  private static Controller controller(DedupeNode[] nodes) {
    return Arrays.stream(nodes).filter(n -> n != null && n.clusterMember().controller().isLeader())
        .findFirst().orElseThrow().clusterMember().controller();
  }

  private static void awaitAllInSync(DedupeNode[] nodes) throws InterruptedException {
    TestNode.awaitReady(nodes);
    TestNode.awaitCondition(PHASE_WAIT, "every replica in sync", () -> Arrays.stream(nodes)
        .allMatch(n -> n.clusterMember().shardStates().size() == SHARDS
            && n.clusterMember().shardStates().values().stream()
                .allMatch(s -> s.isr().size() == 3)));
  }

  @Test
  void transferringLeadershipsUnderLoadSurfacesNoErrorAndRebuildsNoOne() throws Exception {
    int zkPort = freePort();
    DedupeNode[] nodes = new DedupeNode[3];
    try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), zkPort)) {
      for (int i = 0; i < 3; i++) {
        nodes[i] = TestNode.clusterMember(dir, zk.connectString(), "handover", i, SHARDS, 3, 0, 3);
      }
      awaitAllInSync(nodes);
      try (DedupeClient client = client(nodes);
          CallerLoad load = new CallerLoad(client, "orders", CALLERS, true)) {
        load.awaitDecisions(0, DECISIONS_PER_PHASE, PHASE_WAIT, "before the transfers");
        // Every shard's leadership to the next replica, one shard after the other, under load.
        for (int shard = 0; shard < SHARDS; shard++) {
          ShardState before = states(nodes).get(shard);
          String from = before.leader();
          String to = before.replicas().get(1);
          DedupeNode old = nodes[Integer.parseInt(from.substring("node-".length()))];
          String oldStore = old.shards().storeId(shard);
          ShardState written = controller(nodes).transferLeadership(shard, to)
              .get(60, TimeUnit.SECONDS);
          assertEquals(to, written.leader());
          assertEquals(oldStore, written.isr().get(from), "shard " + shard + ": old leader in sync");
          int decided = load.decided();
          load.awaitDecisions(decided, DECISIONS_PER_PHASE / 3, PHASE_WAIT,
              "after the transfer of shard " + shard);
          assertEquals(oldStore, old.shards().storeId(shard),
              "shard " + shard + ": the old leader was not rebuilt");
        }
        load.stop(PHASE_WAIT);
        assertEquals(List.of(), load.errors(), "no caller saw an error");
        load.assertInvariants();
        for (int shard = 0; shard < SHARDS; shard++) {
          ShardState now = states(nodes).get(shard);
          assertEquals(3, now.isr().size(), "shard " + shard + " fully in sync: " + now);
          assertTrue(now.isLeader(now.replicas().get(0)), "shard " + shard + ": " + now);
        }
      } finally {
        for (DedupeNode n : nodes) {
          if (n != null) {
            n.close();
          }
        }
      }
    }
  }

  @Test
  void aRollingRestartOfEveryNodeUnderLoadSurfacesNoError() throws Exception {
    int zkPort = freePort();
    DedupeNode[] nodes = new DedupeNode[3];
    try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), zkPort)) {
      for (int i = 0; i < 3; i++) {
        nodes[i] = TestNode.clusterMember(dir, zk.connectString(), "rolling", i, SHARDS, 3, 0, 3);
      }
      awaitAllInSync(nodes);
      try (DedupeClient client = client(nodes);
          CallerLoad load = new CallerLoad(client, "orders", CALLERS, true)) {
        load.awaitDecisions(0, DECISIONS_PER_PHASE, PHASE_WAIT, "before the restarts");
        for (int i = 0; i < 3; i++) {
          nodes[i].close(); // SIGTERM's path: hand the leaderships over, then stop
          nodes[i] = null;
          load.awaitDecisions(load.decided(), DECISIONS_PER_PHASE / 3, PHASE_WAIT,
              "while node-" + i + " is down");
          nodes[i] = TestNode.clusterMember(dir, zk.connectString(), "rolling", i, SHARDS, 3, 0, 3);
          awaitAllInSync(nodes);
          load.awaitDecisions(load.decided(), DECISIONS_PER_PHASE / 3, PHASE_WAIT,
              "after node-" + i + " is back");
        }
        TestNode.awaitCondition(PHASE_WAIT, "every shard led by its preferred replica again",
            () -> states(nodes).values().stream().allMatch(s -> s.isLeader(s.replicas().get(0))));
        load.awaitDecisions(load.decided(), DECISIONS_PER_PHASE, PHASE_WAIT, "after the restarts");
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
}
