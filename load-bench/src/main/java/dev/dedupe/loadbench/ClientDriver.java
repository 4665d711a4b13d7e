package dev.dedupe.loadbench;

import dev.dedupe.client.Decision;
import dev.dedupe.client.DedupeClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Drives a node through the Java client ({@code dev.dedupe.client.DedupeClient}), as an
 * application would: each of several threads calls the blocking {@code checkAndInsert} with
 * one id, waits for its decision, and calls again. The client gathers the threads' ids into
 * batches (its batching settings at their defaults: natural batching, no linger), which is
 * what this measures against the raw single-id calls of {@link DedupeDriver}. Latency is per
 * {@code checkAndInsert} call.
 */
final class ClientDriver {

  /** Failed calls after which a run stops: the node is gone, not slow. */
  private static final int MAX_ERRORS = 100;

  private ClientDriver() {}

  /**
   * Runs {@code threads} callers for {@code warmup} uncounted, then for {@code duration}
   * counted; thread t draws its ids from a workload of seed {@code seed + t}.
   */
  static PhaseCounter run(String target, String namespace, Workload.Shape shape, double repeats,
      long seed, int threads, Duration warmup, Duration duration) throws InterruptedException {
    return run(List.of(target), 0, namespace, shape, repeats, seed, threads, 1, warmup, duration);
  }

  /**
   * Runs {@code threads} callers of a client built on {@code targets} (its seeds; it routes
   * each id to its shard's leader by itself), each calling the blocking {@code checkAndInsert}
   * with {@code idsPerCall} ids (the single-id method for 1, the list method otherwise).
   *
   * @param maxBatchIds the client's {@code maxBatchIds}, or 0 for its default: 1 sends every
   *     single-id call as a request of its own, as many as the ids per call sends each call
   *     whole (split only by leader)
   */
  static PhaseCounter run(List<String> targets, int maxBatchIds, String namespace,
      Workload.Shape shape, double repeats, long seed, int threads, int idsPerCall,
      Duration warmup, Duration duration) throws InterruptedException {
    long measureFrom = System.nanoTime() + warmup.toNanos();
    long end = measureFrom + duration.toNanos();
    PhaseCounter counter = new PhaseCounter(measureFrom);
    AtomicReference<Throwable> firstError = new AtomicReference<>();
    DedupeClient.Builder builder = DedupeClient.builder().targets(targets);
    if (maxBatchIds > 0) {
      builder.maxBatchIds(maxBatchIds);
    }
    try (DedupeClient client = builder.build()) {
      List<Thread> callers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        Workload workload = new Workload(shape, repeats, seed + t);
        callers.add(Thread.ofPlatform().name("client-bench-" + t).start(() -> {
          while (System.nanoTime() < end && counter.errors() < MAX_ERRORS) {
            try {
              if (idsPerCall == 1) {
                String id = workload.next();
                long sent = System.nanoTime();
                Decision d = client.checkAndInsert(namespace, id);
                if (sent >= measureFrom) {
                  counter.replied(sent, 1, d.isNew() ? 1 : 0, d.isNew() ? 0 : 1);
                }
              } else {
                List<String> ids = workload.batch(idsPerCall);
                long sent = System.nanoTime();
                List<Decision> ds = client.checkAndInsert(namespace, ids);
                if (sent >= measureFrom) {
                  int fresh = 0;
                  for (Decision d : ds) {
                    fresh += d.isNew() ? 1 : 0;
                  }
                  counter.replied(sent, ds.size(), fresh, ds.size() - fresh);
                }
              }
            } catch (RuntimeException e) {
              firstError.compareAndSet(null, e);
              counter.failed();
            }
          }
        }));
      }
      for (Thread caller : callers) {
        caller.join();
      }
    }
    if (counter.errors() > 0) {
      System.err.println("bench: " + counter.errors() + " client calls failed; first: "
          + firstError.get());
    }
    return counter;
  }
}
