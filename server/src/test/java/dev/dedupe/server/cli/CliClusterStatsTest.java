package dev.dedupe.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cli.CliTest.Ran;
import dev.dedupe.server.testing.TestConfigs;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import java.io.StringReader;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/dedupe stats} against a two-node cluster (real ZooKeeper, gRPC over Netty): the
 * totals cover both nodes, and a node that cannot be asked gets a row with its error and makes
 * the exit code 3, since the totals are then partial.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CliClusterStatsTest {

  @TempDir Path dir;

  private static DedupeNode start(Path dir, TestingServer zk, int i) {
    return DedupeNode.start(TestConfigs.forDataDir(dir.resolve("node-" + i), Map.of(
        "cluster.zk", zk.getConnectString(),
        "cluster.name", "cli",
        "cluster.node-id", "node-" + i,
        "cluster.initial-nodes", "2",
        // One replica per shard: a stopped node stays the owner of its shards, so stats name it
        // as not answering (with more, its shards fail over and it owns nothing to ask about).
        "cluster.replication-factor", "1",
        "cluster.session-timeout.seconds", "4")), InstantSource.system());
  }

  @Test
  void statsListsEveryNodeAndSaysWhichDidNotAnswer() throws Exception {
    try (TestingServer zk = new TestingServer(true)) {
      DedupeNode node0 = start(dir, zk, 0);
      DedupeNode node1 = start(dir, zk, 1);
      try {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (!(node0.isReady() && node1.isReady())) {
          assertTrue(System.nanoTime() < deadline, "the cluster did not form");
          Thread.sleep(20);
        }
        String target0 = node0.advertisedAddress();
        // The insert command sends each id on to its owner, so both nodes hold some.
        List<String> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
          ids.add("id-" + i);
        }
        List<String> insert = new java.util.ArrayList<>(List.of("insert", "--target", target0, "ns"));
        insert.addAll(ids);
        assertEquals(0, CliTest.run(insert.toArray(String[]::new)).code());

        Ran both = CliTest.run("stats", "--target", target0, "ns");
        assertEquals(0, both.code(), both.toString());
        assertTrue(both.out().lines().anyMatch(l -> l.equals("keys held         40")), both.out());
        assertTrue(both.out().lines().anyMatch(l -> l.equals("nodes answered    2 of 2")), both.out());
        assertTrue(both.out().lines().anyMatch(l -> l.startsWith("node-0  " + target0 + "  ")),
            both.out());
        assertTrue(both.out().lines().anyMatch(
            l -> l.startsWith("node-1  " + node1.advertisedAddress() + "  ")), both.out());

        node1.close();
        Ran partial = CliTest.run("stats", "--target", target0, "--output", "json", "ns");
        assertEquals(Main.SOME_IDS_FAILED, partial.code(), partial.toString());
        JsonObject o = Json.createReader(new StringReader(partial.out())).readObject();
        assertEquals("1", o.getString("nodes_unanswered"));
        JsonArray nodes = o.getJsonArray("nodes");
        assertEquals(2, nodes.size());
        assertEquals("node-1", nodes.getJsonObject(1).getString("node_id"));
        assertTrue(!nodes.getJsonObject(1).getString("error").isEmpty());
        assertTrue(!nodes.getJsonObject(1).containsKey("keys_held"),
            "no figure is made up for a node that did not answer: " + nodes.getJsonObject(1));
        assertEquals(o.getString("keys_held"), nodes.getJsonObject(0).getString("keys_held"),
            "the totals are node-0's alone");

        Ran text = CliTest.run("stats", "--target", target0, "ns");
        assertEquals(Main.SOME_IDS_FAILED, text.code());
        assertTrue(text.out().lines().anyMatch(l -> l.equals("nodes answered    1 of 2")), text.out());
        assertTrue(text.out().lines().anyMatch(l -> l.matches("node +address .* +error")),
            "an error column when a node has an error:\n" + text.out());
        assertTrue(text.out().lines().anyMatch(l -> l.matches("node-1 +\\S+ +- +- +- +- +\\S.*")),
            "node-1's row: no figures, then its error:\n" + text.out());
      } finally {
        node1.close();
        node0.close();
      }
    }
  }
}
