package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.v1.CheckAndInsertRequest;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Natural batching (linger zero, the default): a batch goes at once while fewer than
 * maxInFlightBatches of its key are in flight, and otherwise gathers ids until one of them is
 * answered. Against a node that holds each request until the test answers it, so every step
 * is a state to wait for, not a time.
 */
class NaturalBatchingTest {

  /** Generous for a busy machine; a condition, never a sleep. */
  private static final long WAIT_SECONDS = 60;

  private HoldingNode node;

  @BeforeEach
  void start() throws Exception {
    node = HoldingNode.holding();
  }

  @AfterEach
  void stop() throws Exception {
    node.close();
  }

  private DedupeClient.Builder client() {
    return DedupeClient.builder().target(node.address());
  }

  /** A client whose requests outlast any wait of the test for the node to be told to answer. */
  private DedupeClient.Builder patientClient() {
    return client().requestDeadline(Duration.ofSeconds(WAIT_SECONDS));
  }

  /** Makes the client read the shard map, so that later calls go out on the calling thread. */
  private static void warmUp(DedupeClient client, HoldingNode node) throws Exception {
    CompletableFuture<Decision> first = client.checkAndInsertAsync("warm-up", "warm-up");
    node.awaitHeld(1);
    node.answerOldest();
    first.get(WAIT_SECONDS, TimeUnit.SECONDS);
  }

  @Test
  void aLoneCallIsSentAtOnceWithTheDefaults() throws Exception {
    CallRecorder recorder = new CallRecorder();
    try (DedupeClient client = patientClient().interceptors(recorder).build()) {
      warmUp(client, node);
      for (int i = 0; i < 3; i++) {
        CompletableFuture<Decision> lone = client.checkAndInsertAsync("lone", "id-" + i);
        // Sent before the call returned, on the caller's thread: no linger was waited out.
        // (A batch that lingered would be sent later, by the timer thread.)
        List<CheckAndInsertRequest> sent = recorder.inserts();
        assertEquals(List.of("id-" + i), sent.get(sent.size() - 1).getMessageIdsList(),
            "the lone call was not sent by the time checkAndInsertAsync returned");
        node.awaitHeld(1);
        assertEquals(List.of("id-" + i), node.received().get(i + 1).getMessageIdsList());
        node.answerOldest();
        assertEquals(Verdict.NEW, lone.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());
      }
      // One request per call: nothing else was there to share it.
      assertEquals(4, node.received().size());
    }
  }

  @Test
  void callersBlockedBehindAHeldBatchGatherIntoOneRequestSentWhenItIsAnswered()
      throws Exception {
    int callers = 8;
    try (DedupeClient client = patientClient().maxInFlightBatches(1).build()) {
      warmUp(client, node);
      List<CompletableFuture<Decision>> calls = new ArrayList<>();
      List<Thread> threads = new ArrayList<>();
      AtomicReference<Throwable> failed = new AtomicReference<>();
      for (int t = 0; t < callers; t++) {
        String id = "caller-" + t;
        CompletableFuture<Decision> call = new CompletableFuture<>();
        calls.add(call);
        threads.add(Thread.ofPlatform().name("blocked-caller-" + t).start(() -> {
          try {
            call.complete(client.checkAndInsert("gather", id)); // blocks until answered
          } catch (Throwable e) {
            failed.compareAndSet(null, e);
            call.completeExceptionally(e);
          }
        }));
      }
      // One caller's id went out alone; the other seven wait in the client, not on the wire.
      TestNode.awaitCondition(Duration.ofSeconds(WAIT_SECONDS), "one request held and "
          + (callers - 1) + " ids gathered",
          () -> node.heldCount() == 1 && client.idsWaitingToBeSent() == callers - 1);
      assertEquals(2, node.received().size(), "warm-up, then the first caller's request");
      List<String> first = node.received().get(1).getMessageIdsList();
      assertEquals(1, first.size(), first.toString());

      node.answerOldest();
      node.awaitHeld(1);
      List<String> second = node.received().get(2).getMessageIdsList();
      assertEquals(callers - 1, second.size(), "the gathered ids share one request: " + second);
      Set<String> all = new HashSet<>(first);
      all.addAll(second);
      assertEquals(callers, all.size(), "every caller's id, once: " + first + " " + second);
      node.answerOldest();

      for (CompletableFuture<Decision> call : calls) {
        assertEquals(Verdict.NEW, call.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());
      }
      for (Thread t : threads) {
        t.join();
      }
      assertEquals(null, failed.get());
      assertEquals(3, node.received().size());
    }
  }

  @Test
  void theInFlightBoundIsReachedAndNeverExceeded() throws Exception {
    try (DedupeClient client = patientClient().maxInFlightBatches(2).build()) {
      warmUp(client, node);
      List<CompletableFuture<Decision>> calls = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        calls.add(client.checkAndInsertAsync("bound", "b-" + i));
      }
      // b-0 and b-1 went out at once, each alone; b-2..b-9 wait for a place.
      node.awaitHeld(2);
      assertEquals(8, client.idsWaitingToBeSent());
      // (Two requests in flight at once may reach the node's handlers in either order.)
      assertEquals(Set.of(List.of("b-0"), List.of("b-1")),
          Set.copyOf(node.receivedIds().subList(1, 3)));

      node.answerOldest();
      node.awaitHeld(2);
      assertEquals(List.of("b-2", "b-3", "b-4", "b-5", "b-6", "b-7", "b-8", "b-9"),
          node.receivedIds().get(3));
      assertEquals(0, client.idsWaitingToBeSent());
      node.stopHolding();
      for (CompletableFuture<Decision> call : calls) {
        assertEquals(Verdict.NEW, call.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());
      }
      assertEquals(2, node.maxOutstanding());
    }
  }

  @Test
  void manyBlockingThreadsNeverHaveMoreThanTheBoundInFlight() throws Exception {
    int bound = 2;
    int threads = 8;
    int callsEach = 40;
    try (DedupeClient client = patientClient().maxInFlightBatches(bound).build()) {
      warmUp(client, node);
      AtomicReference<Throwable> failed = new AtomicReference<>();
      List<Thread> callers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        callers.add(Thread.ofPlatform().name("caller-" + t).start(() -> {
          try {
            for (int i = 0; i < callsEach; i++) {
              Decision d = client.checkAndInsert("many", "t" + thread + "-" + i);
              if (!d.isNew()) {
                throw new AssertionError("not NEW: " + d);
              }
            }
          } catch (Throwable e) {
            failed.compareAndSet(null, e);
          }
        }));
      }
      // The node answers one held request at a time, whenever the client has the bound in
      // flight or nothing waiting, so that the bound is pressed against.
      AtomicBoolean done = new AtomicBoolean();
      Thread responder = Thread.ofPlatform().name("responder").start(() -> {
        while (!done.get()) {
          if (node.heldCount() > 0
              && (node.heldCount() >= bound || client.idsWaitingToBeSent() == 0)) {
            node.answerOldest();
          } else {
            LockSupport.parkNanos(200_000); // polling a condition
          }
        }
      });
      try {
        for (Thread t : callers) {
          t.join(TimeUnit.SECONDS.toMillis(120));
          assertFalse(t.isAlive(), t.getName() + " is stuck");
        }
      } finally {
        done.set(true);
        responder.join();
      }
      assertEquals(null, failed.get());
      assertTrue(node.maxOutstanding() <= bound,
          "requests in flight at once: " + node.maxOutstanding() + ", bound " + bound);
      List<CheckAndInsertRequest> requests = node.received();
      int ids = requests.stream().mapToInt(CheckAndInsertRequest::getMessageIdsCount).sum();
      assertEquals(1 + threads * callsEach, ids, "every id sent once");
      assertTrue(requests.size() < 1 + threads * callsEach,
          requests.size() + " requests for " + (threads * callsEach) + " calls: no batching");
    }
  }

  @Test
  void aFailedBatchGivesItsPlaceBack() throws Exception {
    try (DedupeClient client = patientClient()
        .maxInFlightBatches(1)
        .maxAttempts(2)
        .backoff(Duration.ofMillis(1), Duration.ofMillis(1))
        .build()) {
      warmUp(client, node);
      // UNAVAILABLE on every attempt: retries exhausted.
      CompletableFuture<Decision> doomed = client.checkAndInsertAsync("fail", "doomed");
      node.awaitHeld(1);
      CompletableFuture<Decision> behind = client.checkAndInsertAsync("fail", "behind");
      assertEquals(1, client.idsWaitingToBeSent());
      String token = node.received().get(1).getAttemptToken();
      node.failOldest(Status.UNAVAILABLE.withDescription("the test says no"));
      // The failed attempt gave its place back: "behind" goes, and so does the retry of
      // "doomed" (same token), which does not hold the place while it backs off and waits.
      TestNode.awaitCondition(Duration.ofSeconds(WAIT_SECONDS), "the retry and 'behind' held",
          () -> node.heldCount() == 2 && node.received().size() == 4);
      assertEquals(Set.of(List.of("doomed"), List.of("behind")),
          Set.copyOf(node.receivedIds().subList(2, 4)));
      for (CheckAndInsertRequest r : node.received().subList(2, 4)) {
        if (r.getMessageIdsList().contains("doomed")) {
          assertEquals(token, r.getAttemptToken(), "a retry keeps its token");
        }
      }
      assertEquals(0, client.idsWaitingToBeSent());
      // The node stops serving "doomed": it fails it, as a server shutting down does; the
      // retries are exhausted.
      node.failHolding("doomed", Status.UNAVAILABLE.withDescription("server shutting down"));
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> doomed.get(WAIT_SECONDS, TimeUnit.SECONDS));
      assertEquals(Status.Code.UNAVAILABLE, ((DedupeException) e.getCause()).code());
      node.answerHolding("behind");
      assertEquals(Verdict.NEW, behind.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());

      // A refusal that is never retried gives its place back too.
      CompletableFuture<Decision> refused = client.checkAndInsertAsync("fail", "refused");
      node.awaitHeld(1);
      node.failOldest(Status.FAILED_PRECONDITION.withDescription("no"));
      assertThrows(ExecutionException.class, () -> refused.get(WAIT_SECONDS, TimeUnit.SECONDS));

      // And later calls are not stalled.
      node.stopHolding();
      assertEquals(Verdict.NEW, client.checkAndInsert("fail", "later").verdict());
      assertEquals(Verdict.DUPLICATE, client.checkAndInsert("fail", "behind").verdict());
      TestNode.awaitCondition(Duration.ofSeconds(WAIT_SECONDS), "no batching state left",
          () -> client.batchKeysHeld() == 0);
    }
  }

  @Test
  void aBatchThatRunsOutOfTimeGivesItsPlaceBack() throws Exception {
    try (DedupeClient client = client()
        .maxInFlightBatches(1)
        .maxAttempts(1)
        .requestDeadline(Duration.ofMillis(300))
        .build()) {
      node.answerFromNowOn();
      assertEquals(Verdict.NEW, client.checkAndInsert("deadline", "warm-up").verdict());
      node.holdFromNowOn();
      CompletableFuture<Decision> slow = client.checkAndInsertAsync("deadline", "slow");
      node.awaitHeld(1);
      CompletableFuture<Decision> behind = client.checkAndInsertAsync("deadline", "behind");
      assertEquals(1, client.idsWaitingToBeSent());
      // The node never answers "slow" (but will answer what comes next at once): the
      // deadline ends it, and "behind" goes.
      node.answerFromNowOn();
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> slow.get(WAIT_SECONDS, TimeUnit.SECONDS));
      assertEquals(Status.Code.DEADLINE_EXCEEDED, ((DedupeException) e.getCause()).code());
      assertEquals(Verdict.NEW, behind.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());
      assertEquals(List.of("behind"), node.receivedIds().get(2));
    }
  }

  @Test
  void aRepeatedIdWaitsForTheBatchHoldingItsFirstOccurrence() throws Exception {
    try (DedupeClient client = patientClient().maxInFlightBatches(1).build()) {
      warmUp(client, node);
      CompletableFuture<Decision> a = client.checkAndInsertAsync("chain", "a");
      node.awaitHeld(1);
      // x and y gather; the second x closes their batch and starts the next one.
      CompletableFuture<Decision> x1 = client.checkAndInsertAsync("chain", "x");
      CompletableFuture<Decision> y = client.checkAndInsertAsync("chain", "y");
      CompletableFuture<Decision> x2 = client.checkAndInsertAsync("chain", "x");
      assertEquals(3, client.idsWaitingToBeSent());

      node.answerOldest(); // a
      node.awaitHeld(1);
      assertEquals(List.of("x", "y"), node.receivedIds().get(2));
      assertEquals(1, client.idsWaitingToBeSent(), "the second x waits for the first's answer");
      node.answerOldest(); // x, y
      node.awaitHeld(1);
      assertEquals(List.of("x"), node.receivedIds().get(3));
      node.answerOldest();

      assertEquals(Verdict.NEW, a.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());
      assertEquals(Verdict.NEW, x1.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());
      assertEquals(Verdict.NEW, y.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());
      assertEquals(Verdict.DUPLICATE, x2.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict(),
          "the second caller of x was decided after the first");
    }
  }

  @Test
  void aRepeatedIdChainsAlsoWhenTheBoundLeavesRoom() throws Exception {
    try (DedupeClient client = patientClient().maxInFlightBatches(4).build()) {
      warmUp(client, node);
      CompletableFuture<List<Decision>> call = client.checkAndInsertAsync("chain4",
          List.of("x", "y", "x", "x"));
      // Three batches, [x, y], [x], [x]: each goes only when the one before is answered.
      for (int i = 1; i <= 3; i++) {
        node.awaitHeld(1);
        assertEquals(i + 1, node.received().size());
        node.answerOldest();
      }
      assertEquals(List.of(List.of("x", "y"), List.of("x"), List.of("x")),
          node.receivedIds().subList(1, 4));
      assertEquals(List.of(Verdict.NEW, Verdict.NEW, Verdict.DUPLICATE, Verdict.DUPLICATE),
          call.get(WAIT_SECONDS, TimeUnit.SECONDS).stream().map(Decision::verdict).toList());
      assertEquals(List.of(), node.overlapping(), "an id was on the wire twice at once");
    }
  }

  @Test
  void closeSendsBatchesWaitingForAPlace() throws Exception {
    DedupeClient client = patientClient().maxInFlightBatches(1).build();
    Thread closer = Thread.ofPlatform().name("closer").unstarted(client::close);
    try {
      warmUp(client, node);
      CompletableFuture<Decision> first = client.checkAndInsertAsync("closing", "first");
      node.awaitHeld(1);
      CompletableFuture<Decision> waiting = client.checkAndInsertAsync("closing", "waiting");
      assertEquals(1, client.idsWaitingToBeSent());
      closer.start();
      // close() sends it without waiting for "first" to be answered.
      node.awaitHeld(2);
      assertEquals(List.of("waiting"), node.receivedIds().get(2));
      node.stopHolding();
      assertEquals(Verdict.NEW, first.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());
      assertEquals(Verdict.NEW, waiting.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());
    } finally {
      node.stopHolding();
      if (closer.getState() == Thread.State.NEW) {
        client.close();
      } else {
        closer.join();
      }
    }
    assertThrows(IllegalStateException.class, () -> client.checkAndInsert("closing", "after"));
  }

  @Test
  void keysWithTheirOwnTokensLeaveNothingBehind() throws Exception {
    node.answerFromNowOn();
    try (DedupeClient client = client().build()) {
      for (int i = 0; i < 20; i++) {
        Decision d = client.checkAndInsert("tokens", "id-" + i,
            InsertOptions.none().withAttemptToken("token-" + i));
        assertEquals("token-" + i, d.attemptToken());
      }
      TestNode.awaitCondition(Duration.ofSeconds(WAIT_SECONDS), "no batching state left",
          () -> client.batchKeysHeld() == 0);
    }
  }

  @Test
  void aPositiveLingerStillGathersLoneCallsForItsLength() throws Exception {
    node.answerFromNowOn();
    // maxInFlightBatches has no effect with a linger: the two calls share a batch although
    // nothing is in flight, because it waits (here up to 10 s) until it is full.
    try (DedupeClient client = client().linger(Duration.ofSeconds(10)).maxBatchIds(2)
        .maxInFlightBatches(5).build()) {
      CompletableFuture<Decision> a = client.checkAndInsertAsync("timed", "a");
      CompletableFuture<Decision> b = client.checkAndInsertAsync("timed", "b");
      assertEquals(Verdict.NEW, a.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());
      assertEquals(Verdict.NEW, b.get(WAIT_SECONDS, TimeUnit.SECONDS).verdict());
      assertEquals(List.of(List.of("a", "b")), node.receivedIds());
    }
  }

  @Test
  void maxInFlightBatchesIsValidatedAndSetOnce() {
    IllegalArgumentException low = assertThrows(IllegalArgumentException.class,
        () -> DedupeClient.builder().maxInFlightBatches(0));
    assertTrue(low.getMessage().contains("was 0"), low.getMessage());
    IllegalArgumentException high = assertThrows(IllegalArgumentException.class,
        () -> DedupeClient.builder().maxInFlightBatches(1001));
    assertTrue(high.getMessage().contains("was 1001"), high.getMessage());
    DedupeClient.Builder b = DedupeClient.builder().maxInFlightBatches(3);
    IllegalStateException twice = assertThrows(IllegalStateException.class,
        () -> b.maxInFlightBatches(4));
    assertEquals("maxInFlightBatches was already set to 3", twice.getMessage());
  }
}
