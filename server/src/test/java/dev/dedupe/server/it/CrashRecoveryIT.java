package dev.dedupe.server.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckAndInsertResponse;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceBlockingStub;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * "No acknowledged insert is lost": with the default durability (fsync), every id a client was
 * answered NEW is still held after the server process is killed with SIGKILL mid-load and
 * restarted on the same data directory.
 *
 * <p>Each cycle drives a real server process from several threads, kills it while calls are in
 * flight, restarts it, and checks every id acknowledged NEW so far (all cycles) with the
 * read-only Check RPC. Calls cut off by the kill were never acknowledged, so they prove
 * nothing either way and are ignored. Some ids are shared between threads and re-sent in later
 * cycles, so an acknowledged id lost by a crash would also show up as a second NEW.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CrashRecoveryIT {

  private static final String NAMESPACE = "crash.recovery";
  private static final int CYCLES = 3;
  private static final int THREADS = 6;
  private static final int BATCH = 50;
  /** Ids per batch drawn from a pool all threads and cycles share. */
  private static final int SHARED_PER_BATCH = 5;
  private static final int SHARED_POOL = 3_000;
  private static final Duration LOAD_AT_LEAST = Duration.ofSeconds(2);
  private static final Duration LOAD_AT_MOST = Duration.ofSeconds(20);
  /** Fewer acknowledged ids than this per cycle would make the cycle prove little. */
  private static final int MIN_ACKED_PER_CYCLE = 500;
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration CALL_DEADLINE = Duration.ofSeconds(10);

  @TempDir
  Path dir;

  private ServerProcess server;

  /** Every id answered NEW, over all cycles, with the first_seen of that answer. */
  private final Map<String, Long> ackedNew = new ConcurrentHashMap<>();
  /** Ids answered NEW more than once: each breaks "exactly one winner". */
  private final Queue<String> newTwice = new ConcurrentLinkedQueue<>();

  @AfterEach
  void stopServer() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void everyAcknowledgedNewIsDuplicateAfterSigkillAndRestart() {
    long callsCutOff = 0;
    startServer(0);
    for (int cycle = 1; cycle <= CYCLES; cycle++) {
      int ackedBefore = ackedNew.size();
      Load load = new Load(cycle, server);
      long killedAfterMillis = load.runThenKill();

      int ackedThisCycle = ackedNew.size() - ackedBefore;
      callsCutOff += load.callsCutOff.get();
      System.out.printf("cycle %d: %d ids acknowledged NEW in %d ms (%d calls answered),"
              + " %d calls cut off by the kill%n",
          cycle, ackedThisCycle, killedAfterMillis, load.callsAnswered.get(),
          load.callsCutOff.get());
      assertTrue(load.unexpected.isEmpty(),
          "calls failed before the kill or gave malformed answers: "
              + Calls.firstFew(new ArrayList<>(load.unexpected), 10) + "\n" + server.output());
      assertTrue(ackedThisCycle > MIN_ACKED_PER_CYCLE,
          "only " + ackedThisCycle + " ids acknowledged NEW before the kill in cycle " + cycle
              + "; too few for the check to mean anything\n" + server.output());

      startServer(cycle);
      assertAllAckedAreHeld(cycle);
      assertTrue(newTwice.isEmpty(), newTwice.size() + " ids were answered NEW more than once"
          + " (an acknowledged insert was lost, or two callers won): "
          + Calls.firstFew(new ArrayList<>(newTwice), 20));
    }
    // Otherwise every kill landed between calls, and the test never crashed a write mid-way.
    assertTrue(callsCutOff > 0, "no call was in flight at any of the " + CYCLES + " kills");
  }

  private void startServer(int restarts) {
    if (server != null) {
      server.close(); // the killed one: nothing left to end, but its exit hook goes too
    }
    // Same data directory every time; a log per start, so a failure quotes the right one.
    // Assigned before waiting, so that @AfterEach ends it even if it never becomes ready.
    server = ServerProcess.start(dir.resolve("data"), dir.resolve("server-" + restarts + ".log"));
    server.awaitServing(START_TIMEOUT);
  }

  /** Every id acknowledged NEW so far must be DUPLICATE now, with the same first_seen. */
  private void assertAllAckedAreHeld(int cycle) {
    ManagedChannel channel = server.newChannel();
    try {
      DedupeServiceBlockingStub stub = DedupeServiceGrpc.newBlockingStub(channel);
      Map<String, IdResult> answers = Calls.checkAll(stub, NAMESPACE, ackedNew.keySet());
      List<String> lost = new ArrayList<>();
      List<String> wrongFirstSeen = new ArrayList<>();
      answers.forEach((id, answer) -> {
        long acked = ackedNew.get(id);
        if (answer.getVerdict() != Verdict.VERDICT_DUPLICATE) {
          lost.add(id + " (acknowledged NEW at " + acked + ", now " + answer.getVerdict() + ")");
        } else if (Calls.millis(answer.getFirstSeen()) != acked) {
          wrongFirstSeen.add(id + " (acknowledged NEW at " + acked + ", now first_seen "
              + Calls.millis(answer.getFirstSeen()) + ")");
        }
      });
      System.out.printf("after restart %d: %d acknowledged ids checked, %d lost%n",
          cycle, answers.size(), lost.size());
      assertTrue(lost.isEmpty(), lost.size() + " of " + answers.size()
          + " acknowledged ids were lost by SIGKILL and restart " + cycle + ": "
          + Calls.firstFew(lost, 20) + "\n" + server.output());
      assertTrue(wrongFirstSeen.isEmpty(), wrongFirstSeen.size()
          + " acknowledged ids came back with another first_seen: "
          + Calls.firstFew(wrongFirstSeen, 20));
    } finally {
      channel.shutdownNow();
    }
  }

  /** One cycle's client threads, and what they saw. */
  private final class Load {

    private final int cycle;
    private final ServerProcess target;
    /** Set just before the SIGKILL: failures after it are the kill's doing. */
    private final AtomicBoolean killing = new AtomicBoolean();
    /**
     * Set once the process is gone. Clients keep calling until then, so that calls are in
     * flight when the signal lands rather than having drained while kill(1) started.
     */
    private final AtomicBoolean killed = new AtomicBoolean();
    private final AtomicLong callsAnswered = new AtomicLong();
    private final AtomicLong callsCutOff = new AtomicLong();
    private final AtomicLong ackedThisCycle = new AtomicLong();
    final Queue<String> unexpected = new ConcurrentLinkedQueue<>();

    Load(int cycle, ServerProcess target) {
      this.cycle = cycle;
      this.target = target;
    }

    /** Drives the server, SIGKILLs it with calls in flight, waits for the threads to end. */
    long runThenKill() {
      ManagedChannel channel = target.newChannel();
      ExecutorService clients = Executors.newFixedThreadPool(THREADS);
      long start = System.nanoTime();
      try {
        DedupeServiceBlockingStub stub = DedupeServiceGrpc.newBlockingStub(channel);
        for (int t = 0; t < THREADS; t++) {
          int thread = t;
          clients.execute(() -> drive(stub, thread));
        }
        awaitEnoughLoad(start);
        killing.set(true);
        try {
          target.killHard();
        } finally {
          killed.set(true);
        }
        clients.shutdown();
        assertTrue(clients.awaitTermination(CALL_DEADLINE.toSeconds() + 10, TimeUnit.SECONDS),
            "client threads did not stop after the kill");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      } finally {
        clients.shutdownNow();
        channel.shutdownNow();
      }
      return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    /** At least LOAD_AT_LEAST, and longer (within LOAD_AT_MOST) if too little was acked. */
    private void awaitEnoughLoad(long start) {
      while (true) {
        long elapsed = System.nanoTime() - start;
        boolean longEnough = elapsed >= LOAD_AT_LEAST.toNanos();
        if (longEnough && ackedThisCycle.get() > MIN_ACKED_PER_CYCLE
            || elapsed >= LOAD_AT_MOST.toNanos() || !unexpected.isEmpty()) {
          return;
        }
        ServerProcess.pause(Duration.ofMillis(20));
      }
    }

    private void drive(DedupeServiceBlockingStub stub, int thread) {
      ThreadLocalRandom random = ThreadLocalRandom.current();
      long sequence = 0;
      while (!killed.get()) {
        List<String> ids = new ArrayList<>(BATCH);
        for (int i = 0; i < BATCH - SHARED_PER_BATCH; i++) {
          ids.add("c" + cycle + "-t" + thread + "-" + sequence++);
        }
        for (int i = 0; i < SHARED_PER_BATCH; i++) {
          // Anywhere in the batch, so that shared ids are not always decided last.
          ids.add(random.nextInt(ids.size() + 1), "shared-" + random.nextInt(SHARED_POOL));
        }
        CheckAndInsertResponse reply;
        try {
          reply = stub.withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
              .checkAndInsert(CheckAndInsertRequest.newBuilder()
                  .setNamespace(NAMESPACE).addAllMessageIds(ids).build());
        } catch (StatusRuntimeException e) {
          if (killing.get()) {
            callsCutOff.incrementAndGet(); // never acknowledged: proves nothing
          } else {
            unexpected.add("thread " + thread + ": " + e.getStatus());
          }
          return;
        }
        callsAnswered.incrementAndGet();
        record(thread, ids, reply);
      }
    }

    private void record(int thread, List<String> ids, CheckAndInsertResponse reply) {
      if (reply.getResultsCount() != ids.size()) {
        unexpected.add("thread " + thread + ": " + reply.getResultsCount() + " results for "
            + ids.size() + " ids");
        return;
      }
      for (int i = 0; i < ids.size(); i++) {
        IdResult r = reply.getResults(i);
        if (r.getVerdict() == Verdict.VERDICT_NEW && r.hasFirstSeen()) {
          ackedThisCycle.incrementAndGet();
          long firstSeen = Calls.millis(r.getFirstSeen());
          Long earlier = ackedNew.putIfAbsent(ids.get(i), firstSeen);
          if (earlier != null) {
            newTwice.add(ids.get(i) + " (NEW at " + earlier + " and again at " + firstSeen
                + ", cycle " + cycle + ")");
          }
        } else if (r.getVerdict() != Verdict.VERDICT_DUPLICATE || !r.hasFirstSeen()) {
          unexpected.add("thread " + thread + ": malformed result for " + ids.get(i) + ": " + r);
        }
      }
    }
  }
}
