package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.dedupe.v1.CheckAndInsertRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Many threads through one client: batches form, each id is decided once, answers go home. */
class MicroBatchingTest {

  private static final int THREADS = 8;
  private static final int OWN_IDS = 100;
  private static final int SHARED_IDS = 50;

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

  /** What one caller asked and heard. */
  private record Asked(int thread, String id, Decision decision) {}

  @Test
  void concurrentCallersShareBatchesAndEachIdIsNewExactlyOnce() throws Exception {
    CallRecorder recorder = new CallRecorder();
    List<Asked> asked = Collections.synchronizedList(new ArrayList<>());
    try (DedupeClient client = DedupeClient.builder()
        .target(node.address())
        .maxBatchIds(50)
        .linger(Duration.ofMillis(20))
        .interceptors(recorder)
        .build()) {
      ExecutorService pool = Executors.newFixedThreadPool(THREADS);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          List<String> ids = new ArrayList<>();
          for (int i = 0; i < OWN_IDS; i++) {
            ids.add("t" + thread + "-" + i);
          }
          for (int i = 0; i < SHARED_IDS; i++) {
            ids.add("shared-" + i);
          }
          Collections.shuffle(ids, new Random(thread));
          go.await();
          if (thread % 2 == 0) {
            // Blocking callers: one id at a time.
            for (String id : ids) {
              asked.add(new Asked(thread, id, client.checkAndInsert("batching", id)));
            }
          } else {
            // Async callers: everything at once, then wait.
            List<CompletableFuture<Decision>> futures = new ArrayList<>();
            for (String id : ids) {
              futures.add(client.checkAndInsertAsync("batching", id));
            }
            for (int i = 0; i < ids.size(); i++) {
              asked.add(new Asked(thread, ids.get(i), futures.get(i).get(2, TimeUnit.MINUTES)));
            }
          }
          return null;
        }));
      }
      go.countDown();
      for (Future<?> f : done) {
        f.get(3, TimeUnit.MINUTES);
      }
      pool.shutdown();
    }

    int calls = THREADS * (OWN_IDS + SHARED_IDS);
    assertEquals(calls, asked.size());
    Map<String, Integer> newCount = new HashMap<>();
    for (Asked a : asked) {
      // Routed to the right caller: each answer is about the id that caller asked.
      assertEquals(a.id(), a.decision().messageId(), "answer routed to the wrong caller");
      if (a.decision().isNew()) {
        newCount.merge(a.id(), 1, Integer::sum);
        assertNotNull(a.decision().attemptToken(), "NEW without the token that recorded it");
      } else {
        assertEquals(Verdict.DUPLICATE, a.decision().verdict(), a.toString());
        assertNull(a.decision().attemptToken(), "a token for an id this caller does not own");
      }
      if (a.id().startsWith("t")) {
        assertTrue(a.id().startsWith("t" + a.thread() + "-"));
        assertTrue(a.decision().isNew(), "an id only its own caller asked for must be NEW: " + a);
      }
    }
    for (int i = 0; i < SHARED_IDS; i++) {
      assertEquals(1, newCount.getOrDefault("shared-" + i, 0), "NEW count of shared-" + i);
    }
    assertEquals(THREADS * OWN_IDS + SHARED_IDS,
        newCount.values().stream().mapToInt(Integer::intValue).sum());

    List<CheckAndInsertRequest> rpcs = recorder.inserts();
    assertTrue(rpcs.size() < calls, rpcs.size() + " RPCs for " + calls + " calls: no batching");
    int ids = rpcs.stream().mapToInt(CheckAndInsertRequest::getMessageIdsCount).sum();
    assertEquals(calls, ids, "every call's id is sent exactly once (no retries were needed)");
    boolean mixedCallers = false;
    for (CheckAndInsertRequest r : rpcs) {
      assertTrue(r.getMessageIdsCount() <= 50, "batch over maxBatchIds: " + r.getMessageIdsCount());
      assertEquals(r.getMessageIdsCount(), new HashSet<>(r.getMessageIdsList()).size(),
          "an id twice in one request");
      assertEquals(36, r.getAttemptToken().length(), "every batch carries a UUID token");
      Set<String> threads = new HashSet<>();
      for (String id : r.getMessageIdsList()) {
        if (id.startsWith("t")) {
          threads.add(id.substring(0, id.indexOf('-')));
        }
      }
      mixedCallers |= threads.size() > 1;
    }
    assertTrue(mixedCallers, "no request carried ids of more than one caller thread");
    assertEquals(rpcs.size(), rpcs.stream().map(CheckAndInsertRequest::getAttemptToken).distinct().count(),
        "each batch has its own token");
  }

  @Test
  void callersWithDifferentFingerprintsShareABatch() {
    CallRecorder recorder = new CallRecorder();
    byte[] fpA = "payload-a".getBytes(StandardCharsets.UTF_8);
    byte[] fpB = "payload-b".getBytes(StandardCharsets.UTF_8);
    // Linger is long and a batch holds exactly the two calls, so they share it for certain.
    try (DedupeClient client = DedupeClient.builder()
        .target(node.address())
        .maxBatchIds(2)
        .linger(Duration.ofSeconds(10))
        .interceptors(recorder)
        .build()) {
      CompletableFuture<Decision> a =
          client.checkAndInsertAsync("fp", "a", InsertOptions.none().withFingerprint(fpA));
      CompletableFuture<Decision> b =
          client.checkAndInsertAsync("fp", "b", InsertOptions.none().withFingerprint(fpB));
      assertEquals(Verdict.NEW, a.join().verdict());
      assertEquals(Verdict.NEW, b.join().verdict());
      assertEquals(1, recorder.calls("CheckAndInsert"));
      CheckAndInsertRequest shared = recorder.inserts().get(0);
      assertEquals(List.of(ByteString.copyFrom(fpA), ByteString.copyFrom(fpB)),
          shared.getFingerprintsList());

      // Each id was recorded with its own caller's fingerprint.
      InsertOptions withB = InsertOptions.none().withFingerprint(fpB);
      List<Decision> later = client.checkAndInsert("fp", List.of("a", "b"), withB);
      assertEquals(Verdict.CONFLICT, later.get(0).verdict());
      assertEquals(Verdict.DUPLICATE, later.get(1).verdict());
    }
  }

  @Test
  void anIdRepeatedInOneCallIsNewOnlyAtItsFirstPosition() {
    CallRecorder recorder = new CallRecorder();
    try (DedupeClient client = DedupeClient.builder()
        .target(node.address())
        .linger(Duration.ofMillis(5))
        .interceptors(recorder)
        .build()) {
      List<Decision> ds = client.checkAndInsert("repeat", List.of("x", "y", "x", "x"));
      assertEquals(List.of("x", "y", "x", "x"), ds.stream().map(Decision::messageId).toList());
      assertEquals(List.of(Verdict.NEW, Verdict.NEW, Verdict.DUPLICATE, Verdict.DUPLICATE),
          ds.stream().map(Decision::verdict).toList());
      for (CheckAndInsertRequest r : recorder.inserts()) {
        assertEquals(r.getMessageIdsCount(), new HashSet<>(r.getMessageIdsList()).size(),
            "an id twice in one request: " + r.getMessageIdsList());
      }
    }
  }

  @Test
  void lingerZeroSendsEachCallAtOnceAndCloseFlushesLingeringBatches() throws Exception {
    CallRecorder recorder = new CallRecorder();
    try (DedupeClient client = DedupeClient.builder()
        .target(node.address())
        .linger(Duration.ZERO)
        .interceptors(recorder)
        .build()) {
      client.checkAndInsert("nolinger", "a");
      client.checkAndInsert("nolinger", List.of("b", "c"));
      assertEquals(List.of(List.of("a"), List.of("b", "c")),
          recorder.inserts().stream().map(CheckAndInsertRequest::getMessageIdsList).toList());
    }

    CompletableFuture<Decision> lingering;
    try (DedupeClient client = DedupeClient.builder()
        .target(node.address())
        .linger(Duration.ofSeconds(10))
        .build()) {
      lingering = client.checkAndInsertAsync("nolinger", "d");
    }
    // close() sent the open batch instead of failing it or waiting out the linger.
    assertTrue(lingering.isDone(), "close() returned with a call still pending");
    assertEquals(Verdict.NEW, lingering.join().verdict());
  }

  @Test
  void futuresCompleteOnTheConfiguredExecutor() {
    ExecutorService callbacks = Executors.newSingleThreadExecutor(r -> new Thread(r, "my-callbacks"));
    try (DedupeClient client = DedupeClient.builder()
        .target(node.address())
        .maxBatchIds(2)
        .linger(Duration.ofSeconds(10))
        .executor(callbacks)
        .build()) {
      // The first id waits for the second, so the stage is attached before the reply comes.
      CompletableFuture<String> thread = client.checkAndInsertAsync("exec", "1")
          .thenApply(d -> Thread.currentThread().getName());
      client.checkAndInsertAsync("exec", "2");
      assertEquals("my-callbacks", thread.join());
    } finally {
      callbacks.shutdown();
    }
  }
}
