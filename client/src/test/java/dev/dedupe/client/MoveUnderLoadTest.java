package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.admin.v1.AdminServiceGrpc;
import dev.dedupe.admin.v1.ListMovesRequest;
import dev.dedupe.admin.v1.Move;
import dev.dedupe.admin.v1.MoveReplicaRequest;
import dev.dedupe.admin.v1.MoveState;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cluster.EmbeddedZooKeeper;
import dev.dedupe.server.replication.ShardState;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12's first promise, through the Java client: a replica of a shard, its leader's, moves
 * to a fourth node while many callers insert, and no caller sees an error, no id is NEW for
 * two attempts, every id acknowledged NEW is DUPLICATE afterwards, and the shard ends on the
 * replicas asked.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class MoveUnderLoadTest {

  private static final int NODES = 4;
  private static final int SHARDS = 8;
  private static final int DECISIONS_PER_PHASE = 300;
  private static final Duration PHASE_WAIT = Duration.ofMinutes(2);

  @TempDir Path dir;

  @Test
  void aLeadersReplicaMovesToAFourthNodeUnderLoadWithNoCallerError() throws Exception {
    int zkPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      zkPort = s.getLocalPort();
    }
    DedupeNode[] nodes = new DedupeNode[NODES];
    try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), zkPort)) {
      try {
        run(zk, nodes);
      } finally {
        // Before ZooKeeper stops, so that each node leaves the cluster at once.
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
      nodes[i] = TestNode.clusterMember(dir, zk.connectString(), "moves", i, SHARDS, NODES, 0, 3);
    }
    TestNode.awaitReady(nodes);
    TestNode.awaitCondition(PHASE_WAIT, "every replica in sync", () -> nodes[0].clusterMember()
        .shardStates().values().stream().allMatch(s -> s.isr().size() == 3));
    ShardState before = nodes[0].clusterMember().shardStates().values().iterator().next();
    String source = before.leader();
    String target = List.of("node-0", "node-1", "node-2", "node-3").stream()
        .filter(n -> !before.replicas().contains(n)).findFirst().orElseThrow();
    Set<String> wanted = new TreeSet<>(before.replicas());
    wanted.remove(source);
    wanted.add(target);

    ManagedChannel channel = NettyChannelBuilder.forTarget(nodes[0].advertisedAddress())
        .usePlaintext().build();
    try (DedupeClient client = DedupeClient.builder()
        .target(nodes[0].advertisedAddress())
        // The default retry settings: a user relies on them to ride out a move.
        .build();
        CallerLoad load = new CallerLoad(client, "orders", 8, true)) {
      var admin = AdminServiceGrpc.newBlockingStub(channel);
      load.awaitDecisions(0, DECISIONS_PER_PHASE, PHASE_WAIT, "before the move");

      String id = admin.withDeadlineAfter(10, TimeUnit.SECONDS).moveReplica(
          MoveReplicaRequest.newBuilder().setShard(before.shard()).setFromNode(source)
              .setToNode(target).build()).getMove().getMoveId();
      AtomicReference<Move> last = new AtomicReference<>();
      TestNode.awaitCondition(PHASE_WAIT, "move " + id + " finishes", () -> {
        Move m = admin.withDeadlineAfter(10, TimeUnit.SECONDS)
            .listMoves(ListMovesRequest.getDefaultInstance()).getMovesList().stream()
            .filter(x -> x.getMoveId().equals(id)).findFirst().orElseThrow();
        last.set(m);
        return m.getState() != MoveState.MOVE_STATE_RUNNING;
      });
      assertEquals(MoveState.MOVE_STATE_DONE, last.get().getState(), last.get().toString());
      int atMove = load.decided();
      load.awaitDecisions(atMove, DECISIONS_PER_PHASE, PHASE_WAIT, "after the move");
      load.stop(PHASE_WAIT);
      assertEquals(List.of(), load.errors(), "no caller saw an error");
      load.assertInvariants();

      TestNode.awaitCondition(PHASE_WAIT, "every node read the final replicas", () ->
          java.util.Arrays.stream(nodes).allMatch(n -> new TreeSet<>(n.clusterMember()
              .shardStates().get(before.shard()).replicas()).equals(wanted)));
      assertEquals(wanted, new TreeSet<>(nodes[0].clusterMember().shardStates()
          .get(before.shard()).replicas()));
      assertTrue(nodes[0].clusterMember().shardStates().get(before.shard()).isLeader(target),
          "leadership went with the moved replica");
    } finally {
      channel.shutdownNow();
    }
  }
}
