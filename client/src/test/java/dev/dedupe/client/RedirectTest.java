package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckAndInsertResponse;
import dev.dedupe.v1.CommitRequest;
import dev.dedupe.v1.CommitResponse;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.ForgetRequest;
import dev.dedupe.v1.ForgetResponse;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.IdStatus;
import dev.dedupe.v1.ShardOwner;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster's per-id UNAVAILABLE: a node that does not own an id's shard leaves the id alone
 * and names the owner. Here a fake node claims every shard in its map but hands every id on to
 * the real node (or, without a hint, to nobody).
 */
class RedirectTest {

  private static final int SHARDS = 4;

  @TempDir Path dir;
  private TestNode real;
  private Server fakeServer;
  private String fake;

  /** Claims every shard, then answers every id "not mine", naming the real node or no one. */
  private final class WrongNode extends DedupeServiceGrpc.DedupeServiceImplBase {
    final boolean hint;

    WrongNode(boolean hint) {
      this.hint = hint;
    }

    private IdStatus notMine(String namespace, String id) {
      int shard = ShardHash.shardOf(namespace, id, SHARDS);
      IdStatus.Builder status = IdStatus.newBuilder()
          .setCode(Status.Code.UNAVAILABLE.value())
          .setMessage("shard " + shard + " is not served here");
      if (hint) {
        status.setOwner(ShardOwner.newBuilder()
            .setShard(shard).setAddress(real.address()).setEpoch(2).setNodeId("real"));
      }
      return status.build();
    }

    @Override
    public void getShardMap(GetShardMapRequest request, StreamObserver<GetShardMapResponse> out) {
      GetShardMapResponse.Builder map = GetShardMapResponse.newBuilder()
          .setShardCount(SHARDS).setHash(ShardRouter.HASH_NAME);
      for (int s = 0; s < SHARDS; s++) {
        map.addOwners(ShardOwner.newBuilder().setShard(s).setAddress(fake).setEpoch(1));
      }
      out.onNext(map.build());
      out.onCompleted();
    }

    @Override
    public void checkAndInsert(CheckAndInsertRequest request, StreamObserver<CheckAndInsertResponse> out) {
      CheckAndInsertResponse.Builder reply = CheckAndInsertResponse.newBuilder();
      for (String id : request.getMessageIdsList()) {
        reply.addResults(IdResult.newBuilder().setStatus(notMine(request.getNamespace(), id)));
      }
      out.onNext(reply.build());
      out.onCompleted();
    }

    @Override
    public void forget(ForgetRequest request, StreamObserver<ForgetResponse> out) {
      ForgetResponse.Builder reply = ForgetResponse.newBuilder();
      for (String id : request.getMessageIdsList()) {
        reply.addRemoved(false).addStatuses(notMine(request.getNamespace(), id));
      }
      out.onNext(reply.build());
      out.onCompleted();
    }

    @Override
    public void commit(CommitRequest request, StreamObserver<CommitResponse> out) {
      CommitResponse.Builder reply = CommitResponse.newBuilder();
      for (String id : request.getMessageIdsList()) {
        reply.addStatuses(notMine(request.getNamespace(), id));
      }
      out.onNext(reply.build());
      out.onCompleted();
    }
  }

  @BeforeEach
  void start() {
    real = TestNode.start(dir);
  }

  private void startFake(boolean hint) throws IOException {
    fakeServer = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
        .addService(new WrongNode(hint)).build().start();
    fake = "127.0.0.1:" + fakeServer.getPort();
  }

  @AfterEach
  void stop() throws InterruptedException {
    if (fakeServer != null) {
      fakeServer.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    real.close();
  }

  private DedupeClient.Builder client(CallRecorder recorder) {
    return DedupeClient.builder()
        .target(fake)
        .linger(Duration.ofMillis(1))
        .maxAttempts(3)
        .backoff(Duration.ofMillis(5), Duration.ofMillis(10))
        .interceptors(recorder);
  }

  @Test
  void idsAnOwnerHintNamesGoThereWithTheSameToken() throws IOException {
    startFake(true);
    CallRecorder recorder = new CallRecorder();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      ids.add("moved-" + i);
    }
    try (DedupeClient client = client(recorder).build()) {
      List<Decision> ds = client.checkAndInsert("redirect", ids);
      assertEquals(ids, ds.stream().map(Decision::messageId).toList());
      for (Decision d : ds) {
        assertTrue(d.isNew(), d.toString());
        assertFalse(d.replay(), "the wrong node did not touch the id: " + d);
      }
      List<CheckAndInsertRequest> attempts = recorder.inserts();
      assertEquals(2, attempts.size(), "one try at the wrong node, one at the owner");
      assertEquals(attempts.get(0).getAttemptToken(), attempts.get(1).getAttemptToken());
      assertEquals(ids, attempts.get(1).getMessageIdsList());
      assertEquals(ds.get(0).attemptToken(), attempts.get(0).getAttemptToken());
      // The client learned the owners: the next call goes straight there.
      assertEquals(Verdict.DUPLICATE, client.checkAndInsert("redirect", ids.get(0)).verdict());
      assertEquals(3, recorder.inserts().size());
      assertTrue(client.forget("redirect", ids.get(1)));
    }

    // Forget and Commit follow hints as well (a fresh client knows only the wrong node).
    try (DedupeClient client = client(new CallRecorder()).build()) {
      assertEquals(List.of(true), client.forget("redirect", List.of(ids.get(2))));
    }
    Decision leased;
    try (DedupeClient client = client(new CallRecorder()).build()) {
      leased = client.checkAndInsert("redirect", "leased",
          InsertOptions.none().withLease(Duration.ofMinutes(1)));
      assertTrue(leased.isNew());
    }
    CallRecorder commits = new CallRecorder();
    try (DedupeClient client = client(commits).build()) {
      client.commit("redirect", "leased", leased.attemptToken(), new byte[] {7});
      assertEquals(2, commits.calls("Commit"));
      assertEquals(Verdict.DUPLICATE, client.check("redirect", "leased").verdict());
    }
  }

  @Test
  void idsNoNodeWillTakeFailAfterMaxAttemptsWithUnavailable() throws IOException {
    startFake(false);
    CallRecorder recorder = new CallRecorder();
    try (DedupeClient client = client(recorder).build()) {
      DedupeException e = assertThrows(DedupeException.class,
          () -> client.checkAndInsert("orphan", "id"));
      assertEquals(Status.Code.UNAVAILABLE, e.code());
      assertTrue(e.getMessage().contains("not served here"), e.getMessage());
      assertEquals(3, recorder.calls("CheckAndInsert"), "maxAttempts bounds per-id retries");
      assertTrue(recorder.calls("GetShardMap") >= 2, "the map is fetched again before retrying");
    }
    try (DedupeClient direct = DedupeClient.builder().target(real.address()).build()) {
      assertEquals(Verdict.NEW, direct.check("orphan", "id").verdict(), "nothing was recorded");
    }
  }
}
