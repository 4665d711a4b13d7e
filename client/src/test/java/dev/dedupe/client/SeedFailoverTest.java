package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cluster.EmbeddedZooKeeper;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client must not be stuck on one dead address. It is seeded with an address nothing
 * listens on, one that accepts connections and never answers (a node killed in the middle of
 * the client's first GetShardMap, or a hung one), and one live node of a three-node cluster;
 * later the node it read its map from is stopped. Calls for shards on healthy nodes must keep
 * succeeding, and map changes must still reach the client through the nodes it learned of.
 *
 * <p>The request deadline is ten minutes, so a client that waits out a dead address's
 * deadline before asking the next one cannot pass: every wait here is for a condition, with
 * a deadline (one minute) that is generous on a busy machine and far below ten minutes.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SeedFailoverTest {

  private static final int SHARDS = 6;
  private static final Duration WAIT = Duration.ofMinutes(1);

  @TempDir Path dir;

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Ids of the given namespace whose shards {@code owner} owns under the client's map. */
  private static List<String> idsOwnedBy(DedupeClient client, String namespace, String owner,
      String prefix, int n) {
    ShardRouter.Table table = client.routingTable();
    List<String> ids = new ArrayList<>();
    for (int i = 0; ids.size() < n; i++) {
      String id = prefix + i;
      if (table.owners()[ShardHash.shardOf(namespace, id, table.shardCount())].equals(owner)) {
        ids.add(id);
      }
    }
    return ids;
  }

  private static boolean leads(DedupeNode node) {
    return node.clusterMember().controller().isLeader();
  }

  private static <T> T within(CompletableFuture<T> call, String what) throws Exception {
    try {
      return call.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(what + " did not complete within " + WAIT
          + " (the request deadline is 10 min: was the client waiting on a dead address?)");
    }
  }

  @Test
  void deadSeedsAndADeadMapSourceDoNotStopCallsForHealthyShards() throws Exception {
    DedupeNode[] nodes = new DedupeNode[3];
    try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), freePort());
        // Accepts connections (the kernel does, up to the backlog) and never speaks HTTP/2.
        ServerSocket hung = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      try {
        for (int i = 0; i < 3; i++) {
          nodes[i] = TestNode.clusterMember(dir, zk.connectString(), "seeds", i, SHARDS, 3);
        }
        TestNode.awaitReady(nodes);
        String refused = "127.0.0.1:" + freePort();
        String silent = "127.0.0.1:" + hung.getLocalPort();
        String live = nodes[1].advertisedAddress();

        try (DedupeClient client = DedupeClient.builder()
            .targets(List.of(refused, silent, live))
            .requestDeadline(Duration.ofMinutes(10))
            .maxAttempts(20)
            .backoff(Duration.ofMillis(20), Duration.ofMillis(200))
            .linger(Duration.ZERO)
            .build()) {
          // The first map comes from the live seed, without waiting out the silent one.
          Decision first = within(client.checkAndInsertAsync("seeds", "first"), "the first call");
          assertTrue(first.isNew(), first.toString());
          assertTrue(client.routingTable().routed() && !client.routingTable().provisional(),
              "the client should have the real map: " + client.routingTable());

          // Stop the node the map (and the watch) came from.
          String a = nodes[0].advertisedAddress();
          String c = nodes[2].advertisedAddress();
          List<String> onA = idsOwnedBy(client, "seeds", a, "a-", 20);
          List<String> onC = idsOwnedBy(client, "seeds", c, "c-", 20);
          nodes[1].close();

          for (List<String> ids : List.of(onA, onC)) {
            List<Decision> ds = within(client.checkAndInsertAsync("seeds", ids),
                "a call for shards on a healthy node");
            assertTrue(ds.stream().allMatch(Decision::isNew), ds.toString());
          }

          // A map change made now can reach the client only from a node it learned of from the
          // map (the seeds are dead or silent).
          TestNode.awaitCondition(WAIT, "a controller among the live nodes",
              () -> leads(nodes[0]) || leads(nodes[2]));
          DedupeNode controller = leads(nodes[0]) ? nodes[0] : nodes[2];
          int shard = ShardHash.shardOf("seeds", onA.get(0), SHARDS);
          // Ownership only, for the test: real moves copy the shard's data first.
          controller.clusterMember().controller().moveShard(shard, nodes[2].clusterMember().nodeId());
          TestNode.awaitCondition(WAIT, "the client hearing that shard " + shard + " moved to " + c,
              () -> client.routingTable().owners()[shard].equals(c));
        }
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
