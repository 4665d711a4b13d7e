package dev.dedupe.server.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.rpc.Code;
import dev.dedupe.server.testing.ManualClock;
import dev.dedupe.server.testing.InProcessNode;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckRequest;
import dev.dedupe.v1.CommitRequest;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceBlockingStub;
import dev.dedupe.v1.ExtendLeaseRequest;
import dev.dedupe.v1.ExtendLeaseResponse;
import dev.dedupe.v1.GetNamespaceStatsRequest;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.IdStatus;
import dev.dedupe.v1.ReleaseRequest;
import dev.dedupe.v1.Verdict;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retry identity, leases, stored results and fingerprints, as a client sees them, over an
 * in-process channel to a node with real storage and a manual clock.
 */
class LeaseSemanticsTest {

  private static final long T0 = 1_795_428_000_000L;
  private static final String NS = "payments.charge";

  @TempDir Path dir;
  private final ManualClock clock = new ManualClock(T0);
  private InProcessNode server;
  private DedupeServiceBlockingStub stub;

  private void start() {
    server = InProcessNode.start(dir, clock, Map.of());
    stub = server.stub();
  }

  private void restart() {
    server.close();
    start();
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void aRetryWithTheSameTokenIsNewAgainMarkedReplay() {
    start();
    assertEquals(List.of(Verdict.VERDICT_NEW, Verdict.VERDICT_NEW),
        verdicts(insert("T", null, null, "a", "b")));
    clock.advance(Duration.ofSeconds(3));
    List<IdResult> retry = insert("T", null, null, "a", "b", "c");
    assertEquals(List.of(Verdict.VERDICT_NEW, Verdict.VERDICT_NEW, Verdict.VERDICT_NEW), verdicts(retry));
    assertTrue(retry.get(0).getReplay());
    assertEquals(T0 / 1000, retry.get(0).getFirstSeen().getSeconds(), "a replay keeps the first time");
    assertFalse(retry.get(2).getReplay());
    assertEquals(Verdict.VERDICT_DUPLICATE, insert("U", null, null, "a").get(0).getVerdict());
    assertEquals(Verdict.VERDICT_DUPLICATE, insert("", null, null, "a").get(0).getVerdict());
  }

  @Test
  void anIdRepeatedInOneTokenedRequestIsNewOnlyAtItsFirstPosition() {
    start();
    assertEquals(List.of(Verdict.VERDICT_NEW, Verdict.VERDICT_DUPLICATE, Verdict.VERDICT_NEW,
            Verdict.VERDICT_DUPLICATE),
        verdicts(insert("T", null, null, "a", "a", "b", "a")));
    assertEquals(List.of(Verdict.VERDICT_NEW, Verdict.VERDICT_DUPLICATE),
        verdicts(insert("L", Duration.ofSeconds(30), null, "c", "c")));
    // A retry of that request replays the first position and still repeats DUPLICATE after it.
    List<IdResult> retry = insert("T", null, null, "a", "a");
    assertEquals(List.of(Verdict.VERDICT_NEW, Verdict.VERDICT_DUPLICATE), verdicts(retry));
    assertTrue(retry.get(0).getReplay());
  }

  @Test
  void aLeaseMakesOthersWaitUntilCommitThenTheyGetTheStoredResult() {
    start();
    IdResult mine = insert("T", Duration.ofSeconds(30), null, "a").get(0);
    assertEquals(Verdict.VERDICT_NEW, mine.getVerdict());
    assertEquals(T0 / 1000 + 30, mine.getLeaseExpiresAt().getSeconds());

    IdResult other = insert("U", Duration.ofSeconds(30), null, "a").get(0);
    assertEquals(Verdict.VERDICT_IN_PROGRESS, other.getVerdict());
    assertEquals(T0 / 1000 + 30, other.getLeaseExpiresAt().getSeconds());
    assertEquals(Verdict.VERDICT_IN_PROGRESS, check("a").getVerdict());

    assertEquals(List.of(0), codes(stub.commit(CommitRequest.newBuilder().setNamespace(NS)
        .addMessageIds("a").setAttemptToken("T").addResults(bytes("charge ch_42")).build())
        .getStatusesList()));
    IdResult after = insert("U", null, null, "a").get(0);
    assertEquals(Verdict.VERDICT_DUPLICATE, after.getVerdict());
    assertEquals("charge ch_42", after.getResult().toStringUtf8());
    assertEquals("charge ch_42", check("a").getResult().toStringUtf8());
    assertEquals(Verdict.VERDICT_NEW, insert("T", null, null, "a").get(0).getVerdict(),
        "the committing attempt's own retry is still a replay");

    // A retried Commit (its reply was lost) succeeds and keeps the first result.
    assertEquals(List.of(0), codes(commit("T", "other", "a")));
    assertEquals("charge ch_42", check("a").getResult().toStringUtf8());
  }

  @Test
  void releaseLetsTheNextAttemptDoTheWork() {
    start();
    insert("T", Duration.ofSeconds(30), null, "a");
    assertEquals(List.of(0), codes(release("T", "a")));
    assertEquals(List.of(0), codes(release("T", "a")), "a retried Release finds its work done");
    assertEquals(Verdict.VERDICT_NEW, insert("U", Duration.ofSeconds(30), null, "a").get(0).getVerdict());
    assertEquals(List.of(Code.FAILED_PRECONDITION_VALUE), codes(release("T", "a")));
    assertEquals(1, stats().getKeysHeld());
  }

  @Test
  void extendLeaseKeepsALongSideEffectOwned() {
    start();
    insert("T", Duration.ofSeconds(10), null, "a");
    clock.advance(Duration.ofSeconds(8));
    ExtendLeaseResponse extended = stub.extendLease(ExtendLeaseRequest.newBuilder()
        .setNamespace(NS).addMessageIds("a").setAttemptToken("T")
        .setLeaseDuration(duration(Duration.ofSeconds(30))).build());
    assertEquals(List.of(0), codes(extended.getStatusesList()));
    assertEquals(T0 / 1000 + 38, extended.getLeaseExpiresAt(0).getSeconds());
    clock.advance(Duration.ofSeconds(20));
    assertEquals(Verdict.VERDICT_IN_PROGRESS, insert("U", null, null, "a").get(0).getVerdict());
  }

  @Test
  void aHolderThatDiesLosesTheLeaseAndItsLateCallsAreFenced() {
    start();
    insert("T", Duration.ofSeconds(10), null, "a");
    // T crashes between NEW and its side effect. The broker redelivers after the lease ends.
    clock.advance(Duration.ofSeconds(11));
    IdResult takeover = insert("U", Duration.ofSeconds(10), null, "a").get(0);
    assertEquals(Verdict.VERDICT_NEW, takeover.getVerdict());
    assertFalse(takeover.getReplay());

    List<IdStatus> late = commit("T", "done by T", "a");
    assertEquals(List.of(Code.FAILED_PRECONDITION_VALUE), codes(late));
    assertTrue(late.get(0).getMessage().contains("lease lost"), late.get(0).getMessage());
    assertEquals(List.of(Code.FAILED_PRECONDITION_VALUE), codes(release("T", "a")));
    assertEquals(List.of(Code.FAILED_PRECONDITION_VALUE), codes(stub.extendLease(
        ExtendLeaseRequest.newBuilder().setNamespace(NS).addMessageIds("a").setAttemptToken("T")
            .setLeaseDuration(duration(Duration.ofSeconds(5))).build()).getStatusesList()));

    assertEquals(List.of(0), codes(commit("U", "done by U", "a")));
    assertEquals("done by U", insert("V", null, null, "a").get(0).getResult().toStringUtf8());
    assertEquals(1, stats().getKeysHeld(), "the taken-over record was replaced, not added");
  }

  @Test
  void aLeaseThatRanOutButWasNotTakenCanStillBeCommitted() {
    start();
    insert("T", Duration.ofSeconds(10), null, "a");
    clock.advance(Duration.ofSeconds(11));
    assertEquals(Verdict.VERDICT_NEW, check("a").getVerdict(), "anyone could take it now");
    assertEquals(List.of(0), codes(commit("T", "late but done", "a")));
    assertEquals(Verdict.VERDICT_DUPLICATE, insert("U", null, null, "a").get(0).getVerdict());
  }

  @Test
  void aDifferentFingerprintIsAConflict() {
    start();
    ByteString bodyA = bytes("sha256:aaa");
    ByteString bodyB = bytes("sha256:bbb");
    assertEquals(Verdict.VERDICT_NEW, insert("T", null, bodyA, "a").get(0).getVerdict());
    assertEquals(Verdict.VERDICT_CONFLICT, insert("U", null, bodyB, "a").get(0).getVerdict());
    assertEquals(Verdict.VERDICT_CONFLICT, insert("T", null, bodyB, "a").get(0).getVerdict(),
        "even the recording token may not reuse the id for another payload");
    assertEquals(Verdict.VERDICT_DUPLICATE, insert("U", null, bodyA, "a").get(0).getVerdict());
    assertEquals(Verdict.VERDICT_DUPLICATE, insert("U", null, null, "a").get(0).getVerdict());

    // Per-id fingerprints within one batch.
    List<IdResult> batch = stub.checkAndInsert(CheckAndInsertRequest.newBuilder()
        .setNamespace(NS).setAttemptToken("V").addMessageIds("a").addMessageIds("x")
        .addFingerprints(bodyB).addFingerprints(bodyA).build()).getResultsList();
    assertEquals(List.of(Verdict.VERDICT_CONFLICT, Verdict.VERDICT_NEW), verdicts(batch));
  }

  @Test
  void leaseOperationsAnswerPerIdInRequestOrder() {
    start();
    insert("T", Duration.ofSeconds(30), null, "a", "b");
    insert("U", Duration.ofSeconds(30), null, "c");
    assertEquals(List.of(0, Code.FAILED_PRECONDITION_VALUE, 0, Code.FAILED_PRECONDITION_VALUE),
        codes(commit("T", null, "a", "c", "b", "never-seen")));
    assertEquals(List.of(Verdict.VERDICT_DUPLICATE, Verdict.VERDICT_DUPLICATE, Verdict.VERDICT_IN_PROGRESS),
        verdicts(insert("W", null, null, "a", "b", "c")));
  }

  @Test
  void leasesTokensResultsAndFingerprintsSurviveARestart() {
    start();
    insert("T", Duration.ofSeconds(60), bytes("fp"), "leased");
    insert("T", Duration.ofSeconds(60), null, "committed");
    commit("T", "the result", "committed");
    restart();
    assertEquals(Verdict.VERDICT_IN_PROGRESS, insert("U", null, null, "leased").get(0).getVerdict());
    assertEquals(Verdict.VERDICT_CONFLICT, insert("U", null, bytes("other"), "leased").get(0).getVerdict());
    IdResult replay = insert("T", null, null, "leased").get(0);
    assertTrue(replay.getReplay());
    assertEquals("the result", insert("U", null, null, "committed").get(0).getResult().toStringUtf8());
    assertEquals(List.of(0), codes(commit("T", null, "leased")));
  }

  @Test
  void badLeaseRequestsAreRejectedWithTheField() {
    start();
    assertInvalid("attempt_token", () -> insert("", Duration.ofSeconds(5), null, "a"));
    assertInvalid("lease_duration", () -> insert("T", Duration.ofHours(2), null, "a"));
    assertInvalid("lease_duration", () -> insert("T", Duration.ofSeconds(-1), null, "a"));
    assertInvalid("attempt_token", () -> insert("t".repeat(129), null, null, "a"));
    assertInvalid("fingerprint", () -> insert("T", null, ByteString.copyFrom(new byte[65]), "a"));
    assertInvalid("fingerprints", () -> stub.checkAndInsert(CheckAndInsertRequest.newBuilder()
        .setNamespace(NS).addMessageIds("a").addMessageIds("b").addFingerprints(bytes("x")).build()));
    assertInvalid("attempt_token", () -> commit("", null, "a"));
    assertInvalid("results[0]", () -> stub.commit(CommitRequest.newBuilder().setNamespace(NS)
        .setAttemptToken("T").addMessageIds("a").addResults(ByteString.copyFrom(new byte[4097])).build()));
    assertInvalid("lease_duration", () -> stub.extendLease(ExtendLeaseRequest.newBuilder()
        .setNamespace(NS).setAttemptToken("T").addMessageIds("a").build()));
    assertInvalid("attempt_token", () -> release("", "a"));
    // Nothing of the rejected requests was recorded.
    assertEquals(Verdict.VERDICT_NEW, check("a").getVerdict());
  }

  @Test
  void theShardMapNamesThisNodeForEveryShard() {
    start();
    GetShardMapResponse map = stub.getShardMap(GetShardMapRequest.getDefaultInstance());
    assertEquals(4, map.getShardCount());
    assertEquals("murmur3_x64_128-v1", map.getHash(), "the name clients check; never changes");
    assertEquals(4, map.getOwnersCount());
    for (int s = 0; s < 4; s++) {
      assertEquals(s, map.getOwners(s).getShard());
      assertEquals(server.node.advertisedAddress(), map.getOwners(s).getAddress());
    }
  }

  private List<IdResult> insert(String token, Duration lease, ByteString fingerprint, String... ids) {
    CheckAndInsertRequest.Builder b = CheckAndInsertRequest.newBuilder()
        .setNamespace(NS).setAttemptToken(token).addAllMessageIds(List.of(ids));
    if (lease != null) {
      b.setLeaseDuration(duration(lease));
    }
    if (fingerprint != null) {
      b.setFingerprint(fingerprint);
    }
    return stub.checkAndInsert(b.build()).getResultsList();
  }

  private IdResult check(String id) {
    return stub.check(CheckRequest.newBuilder().setNamespace(NS).addMessageIds(id).build())
        .getResults(0);
  }

  private List<IdStatus> commit(String token, String result, String... ids) {
    CommitRequest.Builder b = CommitRequest.newBuilder().setNamespace(NS).setAttemptToken(token)
        .addAllMessageIds(List.of(ids));
    if (result != null) {
      for (int i = 0; i < ids.length; i++) {
        b.addResults(bytes(result));
      }
    }
    return stub.commit(b.build()).getStatusesList();
  }

  private List<IdStatus> release(String token, String... ids) {
    return stub.release(ReleaseRequest.newBuilder().setNamespace(NS).setAttemptToken(token)
        .addAllMessageIds(List.of(ids)).build()).getStatusesList();
  }

  private dev.dedupe.v1.GetNamespaceStatsResponse stats() {
    return stub.getNamespaceStats(GetNamespaceStatsRequest.newBuilder().setNamespace(NS).build());
  }

  private static List<Verdict> verdicts(List<IdResult> results) {
    return results.stream().map(IdResult::getVerdict).toList();
  }

  private static List<Integer> codes(List<IdStatus> statuses) {
    return statuses.stream().map(IdStatus::getCode).toList();
  }

  private static ByteString bytes(String s) {
    return ByteString.copyFrom(s, StandardCharsets.UTF_8);
  }

  private static com.google.protobuf.Duration duration(Duration d) {
    return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
  }

  private static void assertInvalid(String field, Runnable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().startsWith(field.replaceAll("\\[.*", "")),
        e.getStatus().getDescription());
  }
}
