package dev.dedupe.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.config.ConfigLoader;
import dev.dedupe.server.config.ServerConfig;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckAndInsertResponse;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceBlockingStub;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * "NEW goes to exactly one caller per id": many callers race CheckAndInsert over the same ids,
 * each in its own order and batch sizes, over real Netty connections to a node in this JVM.
 * Judged from the recorded answers alone: per id one NEW in total, every other answer
 * DUPLICATE carrying the winner's first_seen, and a repeat within a request never NEW.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ExactlyOneWinnerIT {

  private static final String NAMESPACE = "exactly.one";
  private static final int THREADS = 16;
  private static final int IDS = 2_000;
  private static final int MAX_BATCH = 200;
  /** Chance that an id is sent a second time later in the same request. */
  private static final double REPEAT_CHANCE = 0.05;

  /** One answer as a caller saw it. */
  private record Answer(int thread, int call, boolean repeatInRequest, Verdict verdict,
      boolean hasFirstSeen, long firstSeen) {}

  @TempDir
  Path dir;

  private DedupeNode node;

  @BeforeEach
  void startNode() {
    ServerConfig config = ConfigLoader.load(null, Map.of(
        "grpc.host", "127.0.0.1",
        "grpc.port", "0",
        "ops.host", "127.0.0.1",
        "ops.port", "0",
        "storage.data-dir", dir.resolve("data").toString(),
        "storage.block-cache.bytes", "32MiB",
        "storage.write-buffer.bytes", "32MiB"), Map.of());
    node = DedupeNode.start(config, InstantSource.system());
  }

  @AfterEach
  void stopNode() {
    if (node != null) {
      node.close();
    }
  }

  @Test
  void everyIdIsNewForExactlyOneCaller() throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < IDS; i++) {
      ids.add("order-" + i);
    }
    long seed = System.nanoTime();
    System.out.println("ExactlyOneWinnerIT seed " + seed);

    Map<String, List<Answer>> byId = race(ids, seed);

    List<String> problems = new ArrayList<>();
    Map<String, Long> winnerFirstSeen = new HashMap<>();
    for (String id : ids) {
      List<Answer> answers = byId.getOrDefault(id, List.of());
      List<Answer> news = answers.stream().filter(a -> a.verdict() == Verdict.VERDICT_NEW).toList();
      if (news.size() != 1) {
        problems.add(id + ": " + news.size() + " NEW answers " + news);
        continue;
      }
      long firstSeen = news.get(0).firstSeen();
      winnerFirstSeen.put(id, firstSeen);
      for (Answer a : answers) {
        if (!a.hasFirstSeen()) {
          problems.add(id + ": answer without first_seen " + a);
        } else if (a.verdict() == Verdict.VERDICT_NEW) {
          if (a.repeatInRequest()) {
            problems.add(id + ": NEW for a repeat within one request " + a);
          }
        } else if (a.verdict() != Verdict.VERDICT_DUPLICATE) {
          problems.add(id + ": unexpected verdict " + a);
        } else if (a.firstSeen() != firstSeen) {
          problems.add(id + ": DUPLICATE with first_seen " + a.firstSeen()
              + " but the NEW said " + firstSeen + " " + a);
        }
      }
    }
    int answerCount = byId.values().stream().mapToInt(List::size).sum();
    System.out.printf("%d answers for %d ids from %d threads, %d problems%n",
        answerCount, ids.size(), THREADS, problems.size());
    assertTrue(problems.isEmpty(), problems.size() + " violations of exactly-one-winner (seed "
        + seed + "): " + Calls.firstFew(problems, 20));

    // The race is over: every id is held, as recorded by its winner.
    ManagedChannel channel = channel();
    try {
      Map<String, IdResult> now =
          Calls.checkAll(DedupeServiceGrpc.newBlockingStub(channel), NAMESPACE, ids);
      for (String id : ids) {
        IdResult r = now.get(id);
        assertEquals(Verdict.VERDICT_DUPLICATE, r.getVerdict(), "Check of " + id);
        assertEquals(winnerFirstSeen.get(id), Calls.millis(r.getFirstSeen()),
            "first_seen Check reports for " + id);
      }
    } finally {
      channel.shutdownNow();
    }
  }

  /**
   * Every thread sends every id once (plus some in-request repeats), in its own shuffled
   * order and random batch sizes, all starting together; returns each id's answers.
   */
  private Map<String, List<Answer>> race(List<String> ids, long seed) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    CountDownLatch ready = new CountDownLatch(THREADS);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<Map<String, List<Answer>>>> futures = new ArrayList<>();
    try {
      for (int t = 0; t < THREADS; t++) {
        int thread = t;
        Random random = new Random(seed + t);
        Callable<Map<String, List<Answer>>> caller = () -> {
          ManagedChannel channel = channel(); // a connection per caller, like separate clients
          try {
            DedupeServiceBlockingStub stub = DedupeServiceGrpc.newBlockingStub(channel);
            List<String> order = new ArrayList<>(ids);
            Collections.shuffle(order, random);
            ready.countDown();
            go.await();
            return sendAll(stub, thread, order, random);
          } finally {
            channel.shutdownNow();
          }
        };
        futures.add(pool.submit(caller));
      }
      assertTrue(ready.await(30, TimeUnit.SECONDS), "callers did not get ready");
      go.countDown();
      Map<String, List<Answer>> byId = new HashMap<>();
      for (Future<Map<String, List<Answer>>> f : futures) {
        f.get(90, TimeUnit.SECONDS).forEach(
            (id, answers) -> byId.computeIfAbsent(id, k -> new ArrayList<>()).addAll(answers));
      }
      return byId;
    } finally {
      pool.shutdownNow();
    }
  }

  private static Map<String, List<Answer>> sendAll(
      DedupeServiceBlockingStub stub, int thread, List<String> order, Random random) {
    Map<String, List<Answer>> byId = new HashMap<>();
    int call = 0;
    for (int from = 0; from < order.size(); call++) {
      int size = Math.min(order.size() - from, 1 + random.nextInt(MAX_BATCH));
      List<String> batch = new ArrayList<>(order.subList(from, from + size));
      from += size;
      for (String id : List.copyOf(batch)) {
        if (random.nextDouble() < REPEAT_CHANCE) {
          // Somewhere after its first position, so the repeat is decided second.
          int first = batch.indexOf(id);
          batch.add(first + 1 + random.nextInt(batch.size() - first), id);
        }
      }
      CheckAndInsertResponse reply = stub.withDeadlineAfter(30, TimeUnit.SECONDS).checkAndInsert(
          CheckAndInsertRequest.newBuilder().setNamespace(NAMESPACE).addAllMessageIds(batch)
              .build());
      assertEquals(batch.size(), reply.getResultsCount(), "one result per id, in order");
      Set<String> seenInRequest = new HashSet<>();
      for (int i = 0; i < batch.size(); i++) {
        String id = batch.get(i);
        IdResult r = reply.getResults(i);
        Answer answer = new Answer(thread, call, !seenInRequest.add(id), r.getVerdict(),
            r.hasFirstSeen(), Calls.millis(r.getFirstSeen()));
        byId.computeIfAbsent(id, k -> new ArrayList<>()).add(answer);
      }
    }
    return byId;
  }

  private ManagedChannel channel() {
    return NettyChannelBuilder.forAddress("127.0.0.1", node.grpcPort()).usePlaintext().build();
  }
}
