package dev.dedupe.server.cluster;

import static dev.dedupe.server.cluster.ClusterFixture.await;
import static dev.dedupe.server.cluster.ClusterFixture.ids;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A ZooKeeper outage does not stop a replicated cluster: leaders keep serving with the in-sync
 * sets they have, reads included, since every answer waits for the in-sync followers to
 * acknowledge it at the leader's epoch. What they cannot do without ZooKeeper is shrink an
 * in-sync set, so when a node also fails, the shards it was in sync for stop acknowledging
 * until ZooKeeper is back. Nothing acknowledged is lost either way.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ZooKeeperOutageTest {

  @TempDir Path dir;

  @Test
  void leadersServeThroughAnOutageAndStopAcknowledgingOnlyWhenAnInSyncSetMustShrink()
      throws Exception {
    try (ClusterFixture cluster = new ClusterFixture(dir, 3, 4)) {
      cluster.awaitServing();
      cluster.awaitInSync();
      ClusterTest.History history = new ClusterTest.History();
      ClusterTest.Router router = new ClusterTest.Router(cluster, history);
      List<String> before = ids("before-", 200);
      router.decide(0, "before", before);

      cluster.zookeeper().stop();
      await("every node knows ZooKeeper is gone", () -> cluster.running().stream()
          .allMatch(n -> n.clusterMember().isFenced()));

      // Old ids are DUPLICATE, new ids NEW, checks answered: the service goes on.
      router.decide(1, "before", before);
      List<String> during = ids("during-", 200);
      router.decide(2, "during", during);
      for (IdResult r : router.check(during)) {
        assertEquals(Verdict.VERDICT_DUPLICATE, r.getVerdict(), r.toString());
      }
      assertTrue(cluster.running().stream().allMatch(DedupeNode::isReady),
          "nodes stay ready while they can serve every shard they lead");

      // A node fails too: every in-sync set names it, and none can shrink without ZooKeeper.
      cluster.stop(2);
      List<String> stuck = ids("stuck-", 40);
      StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
          () -> cluster.stub(0).checkAndInsert(CheckAndInsertRequest.newBuilder()
              .setNamespace("cluster.test").setAttemptToken("stuck").addAllMessageIds(stuck)
              .build()), "no acknowledgement without every in-sync member");
      assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode());
      assertTrue(refused.getStatus().getDescription().contains("attempt_token"),
          "the caller is told to retry with the same token: " + refused.getStatus());

      cluster.zookeeper().restart();
      // The controller drops node-2 from the in-sync sets and elects leaders for its shards;
      // the retry of the same attempt hears NEW (a replay if the first try was recorded).
      router.decide(0, "stuck", stuck);
      router.decide(1, "after", new ArrayList<>(before));
      history.assertInvariants(cluster);
    }
  }
}
