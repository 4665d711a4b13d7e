package dev.dedupe.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CommitRequest;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceBlockingStub;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.ManagedChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Leases, attempt tokens, stored results and fingerprints survive SIGKILL and restart like
 * plain records: a lease still blocks other attempts, its holder's retry is still a replay and
 * it can still commit, and a committed id still returns its result.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class LeaseCrashRecoveryIT {

  private static final String NS = "lease.recovery";
  private static final int IDS = 2_000;

  @TempDir Path dir;
  private ServerProcess server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void leaseStateIsDurableAcrossSigkill() {
    Path data = dir.resolve("data");
    server = ServerProcess.start(data, dir.resolve("server-1.log"));
    server.awaitServing(Duration.ofSeconds(60));
    List<String> leased = ids("leased-");
    List<String> committed = ids("committed-");
    ManagedChannel channel = server.newChannel();
    try {
      DedupeServiceBlockingStub stub = stub(channel);
      for (IdResult r : insert(stub, "holder", leased)) {
        assertEquals(Verdict.VERDICT_NEW, r.getVerdict());
      }
      for (IdResult r : insert(stub, "holder", committed)) {
        assertEquals(Verdict.VERDICT_NEW, r.getVerdict());
      }
      CommitRequest.Builder commit = CommitRequest.newBuilder().setNamespace(NS)
          .setAttemptToken("holder").addAllMessageIds(committed);
      committed.forEach(id -> commit.addResults(ByteString.copyFromUtf8("result of " + id)));
      assertTrue(stub.commit(commit.build()).getStatusesList().stream().allMatch(s -> s.getCode() == 0));
    } finally {
      channel.shutdownNow();
    }

    server.killHard();
    server = ServerProcess.start(data, dir.resolve("server-2.log"));
    server.awaitServing(Duration.ofSeconds(60));
    channel = server.newChannel();
    try {
      DedupeServiceBlockingStub stub = stub(channel);
      List<IdResult> others = insert(stub, "someone-else", leased);
      assertTrue(others.stream().allMatch(r -> r.getVerdict() == Verdict.VERDICT_IN_PROGRESS),
          "leases held before the kill still block other attempts\n" + server.output());
      List<IdResult> retries = insert(stub, "holder", leased);
      assertTrue(retries.stream().allMatch(r -> r.getVerdict() == Verdict.VERDICT_NEW && r.getReplay()),
          "the holder's retry is still a replay");
      List<IdResult> duplicates = insert(stub, "someone-else", committed);
      for (int i = 0; i < committed.size(); i++) {
        assertEquals(Verdict.VERDICT_DUPLICATE, duplicates.get(i).getVerdict());
        assertEquals("result of " + committed.get(i),
            duplicates.get(i).getResult().toString(StandardCharsets.UTF_8));
      }
      CheckAndInsertRequest conflicting = CheckAndInsertRequest.newBuilder().setNamespace(NS)
          .setAttemptToken("someone-else").addMessageIds(leased.get(0))
          .setFingerprint(ByteString.copyFromUtf8("another payload")).build();
      assertEquals(Verdict.VERDICT_CONFLICT, stub.checkAndInsert(conflicting).getResults(0).getVerdict());
      assertTrue(stub.commit(CommitRequest.newBuilder().setNamespace(NS).setAttemptToken("holder")
              .addAllMessageIds(leased).build()).getStatusesList().stream()
          .allMatch(s -> s.getCode() == 0), "the holder can still commit after the restart");
    } finally {
      channel.shutdownNow();
    }
  }

  private static List<IdResult> insert(DedupeServiceBlockingStub stub, String token, List<String> ids) {
    return stub.checkAndInsert(CheckAndInsertRequest.newBuilder().setNamespace(NS)
        .setAttemptToken(token).addAllMessageIds(ids)
        .setFingerprint(ByteString.copyFromUtf8("the payload"))
        .setLeaseDuration(com.google.protobuf.Duration.newBuilder().setSeconds(600)).build())
        .getResultsList();
  }

  private static DedupeServiceBlockingStub stub(ManagedChannel channel) {
    return DedupeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  private static List<String> ids(String prefix) {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < IDS; i++) {
      ids.add(prefix + i);
    }
    return ids;
  }
}
