package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.admin.v1.AdminServiceGrpc;
import dev.dedupe.admin.v1.DrainRequest;
import dev.dedupe.admin.v1.DrainResponse;
import dev.dedupe.admin.v1.ListPlansRequest;
import dev.dedupe.admin.v1.Plan;
import dev.dedupe.admin.v1.PlanState;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cluster.EmbeddedZooKeeper;
import dev.dedupe.server.replication.ShardState;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12's drain, through the Java client: a node's leaderships and replicas all move to the
 * other three while many callers insert, and no caller sees an error, no id is NEW for two
 * attempts, every id acknowledged NEW is DUPLICATE afterwards, and the final shard map is the
 * one planned (no replica on the drained node, three on every shard).
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class DrainUnderLoadTest {

  private static final int NODES = 4;
  private static final int SHARDS = 8;
  private static final int DECISIONS_PER_PHASE = 300;
  private static final Duration PHASE_WAIT = Duration.ofMinutes(2);
  private static final String DRAINED = "node-2";

  @TempDir Path dir;

  @Test
  void aNodeIsDrainedUnderLoadWithNoCallerError() throws Exception {
    int zkPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      zkPort = s.getLocalPort();
    }
    DedupeNode[] nodes = new DedupeNode[NODES];
    try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), zkPort)) {
      try {
        run(zk, nodes);
      } finally {
        for (DedupeNode n : nodes) {
          if (n != null) {
            n.close();
          }
        }
      }
    }
  }

  private void run(EmbeddedZooKeeper zk, DedupeNode[] nodes) throws Exception {
    for (int i = 0; i < NODES; i++) {
      nodes[i] = TestNode.clusterMember(dir, zk.connectString(), "drain", i, SHARDS, NODES, 0, 3);
    }
    TestNode.awaitReady(nodes);
    TestNode.awaitCondition(PHASE_WAIT, "every replica in sync", () -> nodes[0].clusterMember()
        .shardStates().values().stream().allMatch(s -> s.isr().size() == 3));

    ManagedChannel channel = NettyChannelBuilder.forTarget(nodes[0].advertisedAddress())
        .usePlaintext().build();
    try (DedupeClient client = DedupeClient.builder()
        .target(nodes[0].advertisedAddress())
        .maxAttempts(60)
        .backoff(Duration.ofMillis(20), Duration.ofMillis(500))
        .requestDeadline(Duration.ofSeconds(10))
        .build();
        CallerLoad load = new CallerLoad(client, "orders", 8, true)) {
      var admin = AdminServiceGrpc.newBlockingStub(channel);
      load.awaitDecisions(0, DECISIONS_PER_PHASE, PHASE_WAIT, "before the drain");

      DrainResponse drain = admin.withDeadlineAfter(10, TimeUnit.SECONDS).drain(
          DrainRequest.newBuilder().setNodeId(DRAINED).build());
      String id = drain.getPlan().getPlanId();
      AtomicReference<Plan> last = new AtomicReference<>();
      TestNode.awaitCondition(PHASE_WAIT, "plan " + id + " finishes", () -> {
        Plan p = admin.withDeadlineAfter(10, TimeUnit.SECONDS)
            .listPlans(ListPlansRequest.getDefaultInstance()).getPlansList().stream()
            .filter(x -> x.getPlanId().equals(id)).findFirst().orElseThrow();
        last.set(p);
        return p.getState() != PlanState.PLAN_STATE_RUNNING;
      });
      assertEquals(PlanState.PLAN_STATE_DONE, last.get().getState(), last.get().toString());
      int atEnd = load.decided();
      load.awaitDecisions(atEnd, DECISIONS_PER_PHASE, PHASE_WAIT, "after the drain");
      load.stop(PHASE_WAIT);
      assertEquals(List.of(), load.errors(), "no caller saw an error");
      load.assertInvariants();

      TestNode.awaitCondition(PHASE_WAIT, "every node read the final map", () ->
          Arrays.stream(nodes).allMatch(n -> n.clusterMember().shardStates().values().stream()
              .noneMatch(s -> s.replicas().contains(DRAINED))));
      for (ShardState s : nodes[0].clusterMember().shardStates().values()) {
        assertEquals(3, s.replicas().size(), s.toString());
        assertTrue(!s.isLeader(DRAINED), s.toString());
      }
      // Each move went where the plan said.
      drain.getMovesList().stream().filter(m -> m.getKind()
          == dev.dedupe.admin.v1.MoveKind.MOVE_KIND_MOVE_REPLICA).forEach(m ->
          assertTrue(nodes[0].clusterMember().shardStates().get(m.getShard()).replicas()
              .contains(m.getToNode()), m.toString()));
    } finally {
      channel.shutdownNow();
    }
  }
}
