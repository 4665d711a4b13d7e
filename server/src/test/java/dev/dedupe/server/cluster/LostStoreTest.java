package dev.dedupe.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.rpc.Code;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that comes back under its old id with an empty disk must not serve its shards as if
 * nothing had happened: a chaos run lost 878 acknowledged ids this way, silently. Each shard
 * store has an identity made with it, the controller records the leader's store in the shard's
 * in-sync set, and a node whose store is not the one it is in sync with is never elected: the
 * shard answers UNAVAILABLE until the data is back or an admin elects a leader unclean.
 */
class LostStoreTest {

  private static final String NS = "orders";

  @TempDir Path dir;

  @Test
  void aNodeBackWithAnEmptyDiskServesNoneOfItsShardsUntilAnAdminElectsItUnclean() throws Exception {
    // One replica per shard: no other copy can take over, as before replication.
    try (ClusterFixture cluster = new ClusterFixture(dir, 2, 4, 2, 1)) {
      cluster.awaitServing();
      // Ids that node-1 acknowledged as their owner.
      List<String> acknowledged = new ArrayList<>();
      List<IdResult> first = insert(cluster, 1, ids(60), "first");
      for (int i = 0; i < first.size(); i++) {
        if (first.get(i).getVerdict() == Verdict.VERDICT_NEW) {
          acknowledged.add("id-" + i);
        }
      }
      assertFalse(acknowledged.isEmpty(), "node-1 owns no shard: " + first);
      List<Integer> lostShards = states(cluster).ledBy("node-1");

      cluster.stop(1);
      deleteRecursively(cluster.dataDir(1));
      cluster.start(1);
      DedupeNode back = cluster.node(1);
      ClusterFixture.await("node-1 has re-read the shard states and published its new stores",
          () -> !back.clusterMember().isFenced() && published(cluster, lostShards));

      for (IdResult r : insert(cluster, 1, acknowledged, "after-loss")) {
        assertEquals(Verdict.VERDICT_UNSPECIFIED, r.getVerdict(),
            "an id acknowledged before the disk was lost must never be NEW from an empty store");
        assertEquals(Code.UNAVAILABLE_VALUE, r.getStatus().getCode());
        assertTrue(r.getStatus().getMessage().contains("data is missing"), r.toString());
      }
      assertFalse(back.isReady(), "a node with a lost shard is not ready");
      // The controller never elects the empty store, nor records it over the lost one.
      ClusterFixture.await("node-1's shards are leaderless",
          () -> lostShards.stream().noneMatch(s -> states(cluster).state(s).hasLeader()));
      for (int s : lostShards) {
        ShardState state = states(cluster).state(s);
        assertFalse(state.hasLeader(), "no leader without its in-sync store: " + state);
        String inSync = state.isr().get("node-1");
        assertFalse(inSync.isEmpty());
        assertFalse(inSync.equals(back.shards().storeId(s)));
      }

      // The admin's explicit decision: node-1 leads with what it holds, and serves again.
      for (int s : lostShards) {
        UncleanElection.Plan plan = UncleanElection.plan(zk(cluster, 0), paths(), s, "node-1");
        assertTrue(plan.warning().contains("MAY LOSE ACKNOWLEDGED DATA"), plan.warning());
        UncleanElection.execute(zk(cluster, 0), paths(), plan);
      }
      assertThrows(ClusterException.class,
          () -> UncleanElection.plan(zk(cluster, 0), paths(), lostShards.get(0), "node-1"),
          "nothing left to elect");
      ClusterFixture.await("node-1 serves its shards again", back::isReady);
      for (IdResult r : insert(cluster, 1, acknowledged, "after-accept")) {
        assertEquals(Verdict.VERDICT_NEW, r.getVerdict(), "elected unclean: NEW again");
      }
    }
  }

  @Test
  void aRestartOnItsOwnDataKeepsTheRecordedStores() throws Exception {
    try (ClusterFixture cluster = new ClusterFixture(dir, 2, 4, 2, 1)) {
      cluster.awaitServing();
      List<IdResult> first = insert(cluster, 1, ids(20), "first");
      cluster.stop(1);
      cluster.start(1);
      cluster.awaitServing();
      List<IdResult> again = insert(cluster, 1, ids(20), "other");
      for (int i = 0; i < first.size(); i++) {
        if (first.get(i).getVerdict() == Verdict.VERDICT_NEW) {
          assertEquals(Verdict.VERDICT_DUPLICATE, again.get(i).getVerdict(), "id-" + i);
        }
      }
    }
  }

  private static boolean published(ClusterFixture cluster, List<Integer> shards) {
    try {
      return ClusterState.readRegistration(zk(cluster, 0), paths(), "node-1")
          .map(r -> r.stores().keySet().containsAll(shards)).orElse(false);
    } catch (Exception e) {
      return false;
    }
  }

  /**
   * Asks {@code node} for its own shards only: the request is marked as forwarded, so the node
   * answers other nodes' ids UNAVAILABLE instead of forwarding them to their owners.
   */
  private static List<IdResult> insert(
      ClusterFixture cluster, int node, List<String> ids, String token) {
    io.grpc.Metadata forwarded = new io.grpc.Metadata();
    forwarded.put(io.grpc.Metadata.Key.of("dedupe-forwarded-by", io.grpc.Metadata.ASCII_STRING_MARSHALLER),
        "test");
    return cluster.stub(node)
        .withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(forwarded))
        .checkAndInsert(CheckAndInsertRequest.newBuilder()
        .setNamespace(NS).addAllMessageIds(ids).setAttemptToken(token).build()).getResultsList();
  }

  private static List<String> ids(int n) {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add("id-" + i);
    }
    return ids;
  }

  private static ShardStates states(ClusterFixture cluster) {
    try {
      return ClusterState.readShardStates(zk(cluster, 0), paths()).orElseThrow();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static CuratorFramework zk(ClusterFixture cluster, int node) {
    return cluster.node(node).clusterMember().zookeeper();
  }

  private static ClusterPaths paths() {
    return ClusterPaths.forCluster(ClusterFixture.CLUSTER);
  }

  private static void deleteRecursively(Path root) throws Exception {
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
