package dev.dedupe.server.it;

import dev.dedupe.server.it.ChaosHistory.Attempt;
import dev.dedupe.server.it.ChaosHistory.Kind;
import dev.dedupe.server.it.ChaosHistory.Outcome;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Client threads that send CheckAndInsert, one id per call, each to its shard's leader through
 * a {@link LeaderRouter}, and record every attempt in a {@link ChaosHistory}. An op retries its
 * id with the same attempt token until it hears NEW or DUPLICATE, or the load stops. Ops are
 * fresh ids (one token), races (two tokens at once for one id), and re-inserts of ids already
 * acknowledged NEW (a new token, which must hear DUPLICATE).
 */
final class ChaosLoad implements AutoCloseable {

  static final String NAMESPACE = "chaos";
  /** Per call; longer than cluster.replication-timeout.ms, so a round that cannot commit says so. */
  static final Duration CALL_DEADLINE = Duration.ofSeconds(3);
  /** A bound on each thread's ops, whatever happens to the stop signal. */
  private static final int MAX_OPS_PER_THREAD = 200_000;
  private static final double REINSERT = 0.15;
  private static final double CONTESTED = 0.15;

  private final LeaderRouter router;
  private final ChaosHistory history;
  private final String prefix;
  private final long seed;
  private final int threads;
  private final List<Thread> workers = new ArrayList<>();
  private final ExecutorService racers = Executors.newVirtualThreadPerTaskExecutor();
  /** Fresh ids this load heard NEW for, to re-insert. */
  private final List<String> acked = new ArrayList<>();
  private volatile boolean running;

  ChaosLoad(LeaderRouter router, ChaosHistory history, String prefix, long seed, int threads) {
    this.router = router;
    this.history = history;
    this.prefix = prefix;
    this.seed = seed;
    this.threads = threads;
  }

  void start() {
    running = true;
    for (int t = 0; t < threads; t++) {
      int thread = t;
      Thread w = Thread.ofPlatform().name("chaos-load-" + prefix + "-" + t).daemon(true)
          .start(() -> work(thread));
      workers.add(w);
    }
  }

  private void work(int thread) {
    Random rng = new Random(seed * 1_000_003L + prefix.hashCode() * 31L + thread);
    for (int n = 0; running && n < MAX_OPS_PER_THREAD; n++) {
      double r = rng.nextDouble();
      long op = history.newOp();
      String again = r < REINSERT ? pickAcked(rng) : null;
      if (again != null) {
        runOp(Kind.REINSERT, thread, op, again, prefix + "-r" + op, () -> running);
      } else if (r < REINSERT + CONTESTED) {
        String id = prefix + "-x" + op;
        CompletableFuture<Outcome> other = CompletableFuture.supplyAsync(
            () -> runOp(Kind.CONTESTED, thread, op, id, prefix + "-tb" + op, () -> running), racers);
        runOp(Kind.CONTESTED, thread, op, id, prefix + "-ta" + op, () -> running);
        other.join();
      } else {
        String id = prefix + "-f" + op;
        if (runOp(Kind.FRESH, thread, op, id, prefix + "-t" + op, () -> running) == Outcome.NEW) {
          synchronized (acked) {
            acked.add(id);
          }
        }
      }
    }
  }

  private String pickAcked(Random rng) {
    synchronized (acked) {
      return acked.isEmpty() ? null : acked.get(rng.nextInt(acked.size()));
    }
  }

  /**
   * Sends {@code id} with {@code token} to its shard's leader until the answer is NEW or
   * DUPLICATE, or {@code keepGoing} turns false; every call is recorded.
   *
   * @return the definite answer, or null if there was none
   */
  Outcome runOp(Kind kind, int thread, long op, String id, String token, BooleanSupplier keepGoing) {
    int shard = router.shardOf(id);
    int attemptNo = 0;
    while (keepGoing.getAsBoolean()) {
      LeaderRouter.Owner owner = router.owner(shard);
      if (owner.address().isEmpty()) {
        router.refresh();
        if (router.owner(shard).address().isEmpty()) {
          ServerProcess.pause(Duration.ofMillis(50)); // a client's backoff, not a test's wait
        }
        continue;
      }
      Attempt a = call(kind, thread, op, id, shard, token, ++attemptNo, owner.address());
      history.record(a);
      if (a.outcome().definite() || a.outcome() == Outcome.OTHER) {
        return a.outcome();
      }
      if (a.outcome() == Outcome.FAILED || router.owner(shard).equals(owner)) {
        router.refresh();
        ServerProcess.pause(Duration.ofMillis(50)); // a client's backoff, not a test's wait
      }
    }
    return null;
  }

  /** One CheckAndInsert of one id to {@code address}, as an attempt; learns owner hints. */
  Attempt call(Kind kind, int thread, long op, String id, int shard, String token, int attemptNo,
      String address) {
    CheckAndInsertRequest request = CheckAndInsertRequest.newBuilder().setNamespace(NAMESPACE)
        .addMessageIds(id).setAttemptToken(token).build();
    long start = System.nanoTime();
    try {
      IdResult r = router.stub(address)
          .withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
          .checkAndInsert(request).getResults(0);
      return attempt(kind, thread, op, id, shard, token, attemptNo, start, address, r, router);
    } catch (StatusRuntimeException e) {
      return new Attempt(op, kind, thread, id, shard, token, attemptNo, start, System.nanoTime(),
          address, Outcome.FAILED, false, brief(e.getStatus().toString()));
    }
  }

  /** An answer as an attempt; an UNAVAILABLE's owner hint goes to {@code router}. */
  static Attempt attempt(Kind kind, int thread, long op, String id, int shard, String token,
      int attemptNo, long start, String address, IdResult r, LeaderRouter router) {
    long end = System.nanoTime();
    if (r.hasStatus() && r.getStatus().getCode() != 0) {
      if (r.getStatus().hasOwner()) {
        router.learn(r.getStatus().getOwner());
      }
      return new Attempt(op, kind, thread, id, shard, token, attemptNo, start, end, address,
          r.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE.value()
              ? Outcome.UNAVAILABLE : Outcome.OTHER,
          false, brief(r.getStatus().getCode() + " " + r.getStatus().getMessage()));
    }
    Outcome o = r.getVerdict() == Verdict.VERDICT_NEW ? Outcome.NEW
        : r.getVerdict() == Verdict.VERDICT_DUPLICATE ? Outcome.DUPLICATE : Outcome.OTHER;
    return new Attempt(op, kind, thread, id, shard, token, attemptNo, start, end, address, o,
        r.getReplay(), o == Outcome.OTHER ? r.getVerdict().name() : "");
  }

  private static String brief(String s) {
    return s.length() <= 240 ? s : s.substring(0, 240) + "...";
  }

  /** Stops the threads; an op in flight ends with its current call (at most one deadline). */
  void stop() {
    running = false;
    for (Thread w : workers) {
      try {
        w.join(CALL_DEADLINE.toMillis() * 4);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    racers.shutdown();
  }

  @Override
  public void close() {
    stop();
    racers.shutdownNow();
  }
}
