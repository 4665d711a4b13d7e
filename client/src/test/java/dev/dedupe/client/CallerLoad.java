package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Concurrent callers of one client, each calling checkAndInsert in a loop with ten ids drawn
 * from a shared pool (so callers race for them) and one id of its own, recording every
 * decision and every failed call (when, which ids); and the invariants a caller relies on,
 * judged from that record. Tests pace their faults by {@link #awaitDecisions}, not by time.
 */
final class CallerLoad implements AutoCloseable {

  /**
   * A call that failed, as its caller saw it: when it ran (System.nanoTime()), the ids it got
   * no decision for, and the error.
   */
  record Failure(long startNanos, long endNanos, java.time.Instant startedAt,
      List<String> failedIds, Throwable error) {
    @Override
    public String toString() {
      return error + " (ids " + failedIds + ", started " + startedAt + ", took "
          + (endNanos - startNanos) / 1_000_000 + " ms)";
    }
  }

  /** Rounds of a caller that share one pool of ids, when the pool moves on ({@code idPrefix}). */
  private static final int ROUNDS_PER_POOL = 40;
  /** Ids in one moving pool: few enough that callers race for them. */
  private static final int MOVING_POOL_IDS = 200;

  private final DedupeClient client;
  private final String namespace;
  private final Queue<Decision> history = new ConcurrentLinkedQueue<>();
  private final Queue<Failure> errors = new ConcurrentLinkedQueue<>();
  private final AtomicInteger decided = new AtomicInteger();
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final ExecutorService callers;
  private final List<Future<?>> workers = new ArrayList<>();

  /**
   * Starts {@code threads} callers.
   *
   * @param keepErrors whether a failed call is recorded as an error (a test that promises no
   *     error), or only skipped (a test where an error proves nothing either way)
   */
  CallerLoad(DedupeClient client, String namespace, int threads, boolean keepErrors) {
    this(client, namespace, threads, keepErrors, null);
  }

  /**
   * As above, with ids of {@code idPrefix}'s own (so that loads one after the other on one
   * cluster never share an id), drawn from a pool that moves on every few rounds, so that
   * callers keep racing for ids that are new however long the load runs.
   *
   * @param idPrefix null for the fixed pool of 3,000 shared ids
   */
  CallerLoad(DedupeClient client, String namespace, int threads, boolean keepErrors,
      String idPrefix) {
    this.client = client;
    this.namespace = namespace;
    this.callers = Executors.newFixedThreadPool(threads);
    for (int t = 0; t < threads; t++) {
      int caller = t;
      workers.add(callers.submit(() -> {
        for (int round = 0; running.get(); round++) {
          List<String> ids = new ArrayList<>();
          for (int k = 0; k < 10; k++) {
            ids.add(idPrefix == null
                ? "shared-" + ThreadLocalRandom.current().nextInt(3_000)
                : idPrefix + "-shared-" + round / ROUNDS_PER_POOL + "-"
                    + ThreadLocalRandom.current().nextInt(MOVING_POOL_IDS));
          }
          ids.add((idPrefix == null ? "" : idPrefix + "-") + "own-" + caller + "-" + round);
          List<Decision> answered;
          long start = System.nanoTime();
          java.time.Instant startedAt = java.time.Instant.now();
          try {
            answered = client.checkAndInsert(namespace, ids);
          } catch (PartialBatchException e) {
            answered = e.decisions().stream().filter(d -> d != null).toList();
            if (keepErrors) {
              List<String> failed = new ArrayList<>();
              for (int i = 0; i < ids.size(); i++) {
                if (e.decisions().get(i) == null) {
                  failed.add(ids.get(i));
                }
              }
              errors.add(new Failure(start, System.nanoTime(), startedAt, failed, e));
            }
          } catch (RuntimeException e) {
            if (keepErrors) {
              errors.add(new Failure(start, System.nanoTime(), startedAt, List.copyOf(ids), e));
            }
            continue; // Not acknowledged: proves nothing either way.
          }
          history.addAll(answered);
          decided.addAndGet(answered.size());
        }
        return null;
      }));
    }
  }

  int decided() {
    return decided.get();
  }

  /** Waits until {@code more} ids have been decided since {@code from}. */
  void awaitDecisions(int from, int more, Duration wait, String phase)
      throws InterruptedException {
    TestNode.awaitCondition(wait, more + " more ids decided " + phase
        + " (" + (decided.get() - from) + " so far)", () -> decided.get() - from >= more);
  }

  /** Stops the callers and waits for them to finish their calls. */
  void stop(Duration wait) throws Exception {
    running.set(false);
    for (Future<?> w : workers) {
      w.get(wait.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** The calls that failed (only recorded with {@code keepErrors}). */
  List<String> errors() {
    return errors.stream().map(f -> f.error().toString()).toList();
  }

  /** The calls that failed, with their times and ids (only recorded with {@code keepErrors}). */
  List<Failure> failures() {
    return List.copyOf(errors);
  }

  /**
   * Every id some call heard NEW for, with the attempt token it was NEW for; fails if an id
   * was NEW for two attempts (two callers, or a retry that was not recognised as one).
   */
  Map<String, String> ackedNew() {
    Map<String, String> winner = new HashMap<>();
    for (Decision d : history) {
      if (d.isNew()) {
        String previous = winner.putIfAbsent(d.messageId(), d.attemptToken());
        assertTrue(previous == null || previous.equals(d.attemptToken()),
            d.messageId() + " was NEW for two attempts: " + previous + ", " + d.attemptToken());
      }
    }
    return winner;
  }

  /**
   * Every id was NEW for at most one attempt token, some id was NEW, and every id answered
   * NEW is DUPLICATE now.
   */
  void assertInvariants() {
    Map<String, String> winner = ackedNew();
    assertFalse(winner.isEmpty(), "no id was ever NEW");
    List<String> acked = new ArrayList<>(winner.keySet());
    for (int from = 0; from < acked.size(); from += 1_000) {
      List<String> part = acked.subList(from, Math.min(acked.size(), from + 1_000));
      for (Decision d : client.check(namespace, part)) {
        assertEquals(Verdict.DUPLICATE, d.verdict(), d.messageId() + " was acknowledged NEW");
      }
    }
  }

  @Override
  public void close() {
    running.set(false);
    callers.shutdownNow();
  }
}
