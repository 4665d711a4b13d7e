package dev.dedupe.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.rpc.Code;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckAndInsertResponse;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node frozen with SIGSTOP past its ZooKeeper session answers nothing when it runs again.
 *
 * <p>A chaos run found a paused node answering NEW for up to 38 s after ZooKeeper expired its
 * session, because it fenced only when its ZooKeeper client thread noticed. Once shards move
 * that is a split brain. Requests sent while the node is frozen wait in its socket and are read
 * the moment it runs again, before its ZooKeeper client has noticed anything: every one of them
 * must be answered UNAVAILABLE, with nothing recorded, because the node's local lease on its
 * session ran out during the pause. The node then rejoins, and the same attempt tokens hear NEW.
 */
class PausedNodeIT {

  private static final String CLUSTER = "paused";
  private static final String NAMESPACE = "orders";
  private static final int DURING = 20;

  @TempDir Path dir;

  @Test
  void aNodePausedPastItsSessionAnswersNothingWhenItRunsAgain() throws Exception {
    try (TestingServer zookeeper = new TestingServer(true);
        CuratorFramework observer = CuratorFrameworkFactory.newClient(
            zookeeper.getConnectString(), new RetryOneTime(200))) {
      observer.start();
      assertTrue(observer.blockUntilConnected(30, TimeUnit.SECONDS), "observer not connected");
      String registration = "/dedupe/" + CLUSTER + "/nodes/node-a";
      try (ServerProcess node = ServerProcess.start(dir.resolve("data"), dir.resolve("node.log"),
          List.of("--zk", zookeeper.getConnectString(), "--cluster", CLUSTER,
              "--node-id", "node-a", "--initial-nodes", "1",
              "--set", "cluster.session-timeout.seconds=4",
              "--set", "cluster.replication-factor=1"))) {
        node.awaitServing(Duration.ofSeconds(120));
        ManagedChannel channel = node.newChannel();
        try {
          var blocking = DedupeServiceGrpc.newBlockingStub(channel);
          awaitCondition("the node answers a verdict", Duration.ofSeconds(60),
              () -> answered(insert(blocking, "before", "t-before")), node);

          node.pauseProcess();
          awaitCondition("ZooKeeper expires the paused node's session", Duration.ofSeconds(120),
              () -> exists(observer, registration) == false, node);

          // Sent while the node is frozen: they wait in its socket until it runs again.
          var async = DedupeServiceGrpc.newFutureStub(channel);
          List<ListenableFuture<CheckAndInsertResponse>> pending = new ArrayList<>();
          for (int i = 0; i < DURING; i++) {
            pending.add(async.withDeadlineAfter(120, TimeUnit.SECONDS)
                .checkAndInsert(request("during-" + i, "t-" + i)));
          }
          node.resumeProcess();

          int refused = 0;
          for (int i = 0; i < DURING; i++) {
            try {
              IdResult answer = pending.get(i).get().getResults(0);
              assertFalse(answered(answer),
                  "during-" + i + " was answered " + answer.getVerdict() + " by a node whose"
                      + " session had expired\n" + node.output());
              assertEquals(Code.UNAVAILABLE_VALUE, answer.getStatus().getCode(),
                  "during-" + i + ": " + answer);
            } catch (ExecutionException e) {
              StatusRuntimeException failure = (StatusRuntimeException) e.getCause();
              assertEquals(io.grpc.Status.Code.UNAVAILABLE, failure.getStatus().getCode(),
                  "during-" + i + ": " + failure);
            }
            refused++;
          }
          assertEquals(DURING, refused);

          // The node rejoins with a new session, and each caller's retry with its own token
          // hears NEW: nothing was recorded for it while the node was fenced.
          awaitCondition("the node serves again", Duration.ofSeconds(120),
              () -> answered(insert(blocking, "after", "t-after")), node);
          for (int i = 0; i < DURING; i++) {
            IdResult retry = insert(blocking, "during-" + i, "t-" + i);
            assertEquals(Verdict.VERDICT_NEW, retry.getVerdict(), "during-" + i + ": " + retry);
          }
          assertEquals(Verdict.VERDICT_DUPLICATE, insert(blocking, "before", "other").getVerdict());
        } finally {
          channel.shutdownNow();
        }
      }
    }
  }

  private static CheckAndInsertRequest request(String id, String token) {
    return CheckAndInsertRequest.newBuilder().setNamespace(NAMESPACE).addMessageIds(id)
        .setAttemptToken(token).build();
  }

  private static IdResult insert(
      DedupeServiceGrpc.DedupeServiceBlockingStub stub, String id, String token) {
    try {
      return stub.withDeadlineAfter(10, TimeUnit.SECONDS).checkAndInsert(request(id, token))
          .getResults(0);
    } catch (StatusRuntimeException e) {
      return IdResult.getDefaultInstance();
    }
  }

  private static boolean answered(IdResult result) {
    return result.getVerdict() != Verdict.VERDICT_UNSPECIFIED;
  }

  private static boolean exists(CuratorFramework zk, String path) {
    try {
      return zk.checkExists().forPath(path) != null;
    } catch (Exception e) {
      return true;
    }
  }

  private static void awaitCondition(
      String what, Duration timeout, BooleanSupplier condition, ServerProcess node) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("not within " + timeout + ": " + what + "\n" + node.output());
      }
      ServerProcess.pause(Duration.ofMillis(100));
    }
  }
}
