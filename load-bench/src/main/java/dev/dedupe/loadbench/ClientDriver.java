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
    long measureFrom = System.nanoTime() + warmup.toNanos();
    long end = measureFrom + duration.toNanos();
    PhaseCounter counter = new PhaseCounter(measureFrom);
    AtomicReference<Throwable> firstError = new AtomicReference<>();
    try (DedupeClient client = DedupeClient.builder().target(target).build()) {
      List<Thread> callers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        Workload workload = new Workload(shape, repeats, seed + t);
        callers.add(Thread.ofPlatform().name("client-bench-" + t).start(() -> {
          while (System.nanoTime() < end && counter.errors() < MAX_ERRORS) {
            String id = workload.next();
            long sent = System.nanoTime();
            try {
              Decision d = client.checkAndInsert(namespace, id);
              if (sent >= measureFrom) {
                counter.replied(sent, 1, d.isNew() ? 1 : 0, d.isNew() ? 0 : 1);
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
