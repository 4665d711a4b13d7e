package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.v1.CheckAndInsertRequest;
import io.grpc.Status;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Lost replies, refused requests, and the client's memory bound. */
class RetryTest {

  @TempDir Path dir;
  private TestNode node;

  @BeforeEach
  void startNode() {
    node = TestNode.start(dir);
  }

  @AfterEach
  void stopNode() {
    node.close();
  }

  private DedupeClient.Builder client(CallRecorder recorder) {
    return DedupeClient.builder()
        .target(node.address())
        .maxAttempts(5)
        .backoff(Duration.ofMillis(5), Duration.ofMillis(20))
        .interceptors(recorder);
  }

  @Test
  void aLostReplyIsRetriedWithTheSameTokenAndStaysNewForItsCaller() {
    // The server records the ids and answers; the first two answers are lost on the way back.
    CallRecorder recorder = new CallRecorder().dropReplies("CheckAndInsert", 2);
    try (DedupeClient client = client(recorder).maxBatchIds(3).linger(Duration.ofSeconds(10)).build()) {
      // Three callers, one batch (it is sent when the third id arrives).
      CompletableFuture<Decision> a = client.checkAndInsertAsync("lost", "a");
      CompletableFuture<Decision> b = client.checkAndInsertAsync("lost", "b");
      CompletableFuture<Decision> c = client.checkAndInsertAsync("lost", "c");
      for (CompletableFuture<Decision> f : List.of(a, b, c)) {
        Decision d = f.join();
        assertEquals(Verdict.NEW, d.verdict(), "a lost reply turned NEW into " + d);
        assertTrue(d.replay(), "the answer came from a retry of a recorded attempt: " + d);
      }

      List<CheckAndInsertRequest> attempts = recorder.inserts();
      assertEquals(3, attempts.size(), "two lost replies, then the answer");
      String token = attempts.get(0).getAttemptToken();
      assertFalse(token.isEmpty());
      for (CheckAndInsertRequest r : attempts) {
        assertEquals(token, r.getAttemptToken(), "a retry must reuse the attempt's token");
        assertEquals(List.of("a", "b", "c"), r.getMessageIdsList());
      }
      assertEquals(token, a.join().attemptToken());

      // The first attempt really recorded them: anyone else now hears DUPLICATE.
      assertEquals(List.of(Verdict.DUPLICATE, Verdict.DUPLICATE, Verdict.DUPLICATE),
          client.checkAndInsert("lost", List.of("a", "b", "c")).stream()
              .map(Decision::verdict).toList());
      // UNAVAILABLE made the client fetch the shard map again before retrying.
      assertTrue(recorder.calls("GetShardMap") >= 2,
          "GetShardMap calls: " + recorder.calls("GetShardMap"));
    }
  }

  @Test
  void withTheDefaultSettingsACallOutlastsMoreRefusalsThanFourAttempts() {
    // A handover or a restart refuses a shard's calls for a while; the default client must
    // ride it out. Four attempts (the old default, about 0.35 s of backoff) did not.
    CallRecorder recorder = new CallRecorder().dropReplies("CheckAndInsert", 6);
    try (DedupeClient client = DedupeClient.builder().target(node.address())
        .interceptors(recorder).build()) {
      Decision d = client.checkAndInsert("refused-for-a-while", "order-1");
      assertEquals(Verdict.NEW, d.verdict(), d.toString());
      assertTrue(d.replay(), "the first attempt recorded it: " + d);
      assertEquals(7, recorder.calls("CheckAndInsert"), "six lost replies, then the answer");
    }
  }

  @Test
  void theRetryBudgetEndsACallsRetriesBeforeItsAttemptsRunOut() {
    CallRecorder recorder = new CallRecorder().dropReplies("CheckAndInsert", 1_000);
    try (DedupeClient client = DedupeClient.builder().target(node.address())
        .interceptors(recorder).maxAttempts(100).retryBudget(Duration.ofMillis(300))
        .backoff(Duration.ofMillis(20), Duration.ofMillis(20)).build()) {
      DedupeException e = assertThrows(DedupeException.class,
          () -> client.checkAndInsert("budget", "order-1"));
      assertEquals(Status.Code.UNAVAILABLE, e.code());
      int attempts = recorder.calls("CheckAndInsert");
      // Waits of 16 to 20 ms (jitter 0.2) fit at most 19 attempts into 300 ms; how many were
      // made depends on the machine, but never the 100 the attempts alone would allow.
      assertTrue(attempts >= 2 && attempts <= 19, "attempts: " + attempts);
    }
  }

  @Test
  void aCallThatGaveUpAfterTheServerRecordedItsIdCanBeRetriedLaterWithItsToken() {
    // Every attempt's reply is lost: the server recorded the id, and the caller gives up.
    CallRecorder recorder = new CallRecorder().dropReplies("CheckAndInsert", 5);
    try (DedupeClient client = client(recorder).linger(Duration.ZERO).build()) {
      DedupeException e = assertThrows(DedupeException.class,
          () -> client.checkAndInsert("gave-up", "order-1"));
      assertEquals(Status.Code.UNAVAILABLE, e.code());
      assertEquals(5, recorder.calls("CheckAndInsert"));
      String token = recorder.inserts().get(0).getAttemptToken();
      assertEquals(token, e.attemptToken(), "the failure must carry the token its attempts used");
      assertEquals(List.of(token), e.attemptTokens());
      // The id is recorded: a caller without the token would now hear DUPLICATE.
      assertEquals(Verdict.DUPLICATE, client.check("gave-up", "order-1").verdict());

      // The redelivery, later, with the failed call's token: still the caller's to act on.
      Decision later = client.checkAndInsert("gave-up", "order-1",
          InsertOptions.none().withAttemptToken(e.attemptToken()));
      assertEquals(Verdict.NEW, later.verdict(), later.toString());
      assertTrue(later.replay(), "NEW because the failed call recorded it: " + later);
      assertEquals(token, later.attemptToken());
      assertEquals(token, recorder.inserts().get(5).getAttemptToken());
      // Anyone else still hears DUPLICATE.
      assertEquals(Verdict.DUPLICATE, client.checkAndInsert("gave-up", "order-1").verdict());
    }
  }

  @Test
  void aFailedMultiBatchCallTellsTheTokenOfEachIdAndEachCanBeReplayed() {
    // Three ids, two per request: two batches, two tokens; every reply of both is lost.
    CallRecorder recorder = new CallRecorder().dropReplies("CheckAndInsert", 10);
    List<String> ids = List.of("m-1", "m-2", "m-3");
    try (DedupeClient client = client(recorder).maxBatchIds(2).linger(Duration.ZERO).build()) {
      DedupeException e = assertThrows(DedupeException.class,
          () -> client.checkAndInsert("gave-up", ids));
      assertEquals(10, recorder.calls("CheckAndInsert"));
      List<String> tokens = e.attemptTokens();
      assertEquals(3, tokens.size(), tokens.toString());
      assertEquals(tokens.get(0), tokens.get(1));
      assertFalse(tokens.get(0).equals(tokens.get(2)), "two batches share a token: " + tokens);
      assertEquals(null, e.attemptToken(), "several tokens: no single one to name");
      for (CheckAndInsertRequest r : recorder.inserts()) {
        String expected = r.getMessageIdsList().contains("m-3") ? tokens.get(2) : tokens.get(0);
        assertEquals(expected, r.getAttemptToken());
      }

      for (int i = 0; i < ids.size(); i++) {
        Decision d = client.checkAndInsert("gave-up", ids.get(i),
            InsertOptions.none().withAttemptToken(tokens.get(i)));
        assertEquals(Verdict.NEW, d.verdict(), d.toString());
        assertTrue(d.replay(), d.toString());
      }
      assertEquals(List.of(Verdict.DUPLICATE, Verdict.DUPLICATE, Verdict.DUPLICATE),
          client.checkAndInsert("gave-up", ids).stream().map(Decision::verdict).toList());
    }
  }

  @Test
  void callsWithTheirOwnTokenAreNotBatchedWithOthers() {
    CallRecorder recorder = new CallRecorder();
    try (DedupeClient client = client(recorder).maxBatchIds(3).linger(Duration.ofMillis(50)).build()) {
      CompletableFuture<Decision> mine = client.checkAndInsertAsync("own-token", "x",
          InsertOptions.none().withAttemptToken("my-token-1"));
      CompletableFuture<Decision> other = client.checkAndInsertAsync("own-token", "y");
      assertEquals("my-token-1", mine.join().attemptToken());
      assertFalse("my-token-1".equals(other.join().attemptToken()));
      assertEquals(2, recorder.calls("CheckAndInsert"));
    }
    assertThrows(IllegalArgumentException.class, () -> InsertOptions.none().withAttemptToken(""));
    IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
        () -> InsertOptions.none().withAttemptToken("t".repeat(129)));
    assertTrue(tooLong.getMessage().contains("129 bytes"), tooLong.getMessage());
  }

  @Test
  void invalidArgumentIsNeverRetried() {
    CallRecorder recorder = new CallRecorder();
    String tooLong = "x".repeat(300); // the server's default limit is 256 bytes
    try (DedupeClient client = client(recorder).build()) {
      DedupeException e = assertThrows(DedupeException.class,
          () -> client.checkAndInsert("bad", tooLong));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
      assertTrue(e.getMessage().contains("namespace 'bad'"), e.getMessage());
      assertEquals(1, recorder.calls("CheckAndInsert"), "INVALID_ARGUMENT was retried");
    }
  }

  @Test
  void oneCallersBadIdDoesNotFailTheOthersInItsBatch() {
    CallRecorder recorder = new CallRecorder();
    try (DedupeClient client = client(recorder).maxBatchIds(3).linger(Duration.ofSeconds(10)).build()) {
      CompletableFuture<Decision> good = client.checkAndInsertAsync("mixed", "good");
      CompletableFuture<Decision> bad = client.checkAndInsertAsync("mixed", "y".repeat(300));
      CompletableFuture<Decision> alsoGood = client.checkAndInsertAsync("mixed", "also-good");
      assertEquals(Verdict.NEW, good.join().verdict());
      assertEquals(Verdict.NEW, alsoGood.join().verdict());
      CompletionException e = assertThrows(CompletionException.class, bad::join);
      assertEquals(Status.Code.INVALID_ARGUMENT, ((DedupeException) e.getCause()).code());
      // The shared batch, then each caller alone; the bad one is not tried again after that.
      assertEquals(4, recorder.calls("CheckAndInsert"));
    }
  }

  @Test
  void aLostLeaseIsNotRetried() {
    CallRecorder recorder = new CallRecorder();
    try (DedupeClient client = client(recorder).build()) {
      client.checkAndInsert("lease-lost", "id");
      LeaseLostException e = assertThrows(LeaseLostException.class,
          () -> client.commit("lease-lost", "id", "not-the-token", new byte[0]));
      assertEquals(Status.Code.FAILED_PRECONDITION, e.code());
      assertEquals("id", e.messageId());
      assertEquals(1, recorder.calls("Commit"));
    }
  }

  @Test
  void pendingIdsAreBoundedAndTheCallOverTheLimitFailsFast() throws Exception {
    // A listener that accepts connections and never speaks HTTP/2: calls hang until it closes.
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      CallRecorder recorder = new CallRecorder();
      DedupeClient client = DedupeClient.builder()
          .target("127.0.0.1:" + silent.getLocalPort())
          .requestDeadline(Duration.ofSeconds(30))
          .maxAttempts(1)
          .maxBatchIds(1)
          .maxPendingIds(2)
          .maxBlock(Duration.ZERO)
          .interceptors(recorder)
          .build();
      try {
        CompletableFuture<Decision> first = client.checkAndInsertAsync("bounded", "1");
        CompletableFuture<Decision> second = client.checkAndInsertAsync("bounded", "2");
        PendingLimitExceededException e = assertThrows(PendingLimitExceededException.class,
            () -> client.checkAndInsertAsync("bounded", "3"));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.code());
        assertTrue(e.getMessage().contains("limit of 2"), e.getMessage());
        assertFalse(first.isDone());
        assertFalse(second.isDone());
        assertThrows(IllegalArgumentException.class,
            () -> client.checkAndInsertAsync("bounded", List.of("a", "b", "c")));

        silent.close(); // the hung calls fail now, and give their room back
        assertThrows(CompletionException.class, first::join);
        assertThrows(CompletionException.class, second::join);
        DedupeException later = assertThrows(DedupeException.class,
            () -> client.checkAndInsert("bounded", "4"));
        assertFalse(later instanceof PendingLimitExceededException, later.toString());
        assertTrue(recorder.inserts().stream().noneMatch(r -> r.getMessageIdsList().contains("3")),
            "the refused call was sent anyway");
      } finally {
        client.close();
      }
    }
  }
}
