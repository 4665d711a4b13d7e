package dev.dedupe.loadbench;

import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckAndInsertResponse;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.GetNamespaceStatsRequest;
import dev.dedupe.v1.GetNamespaceStatsResponse;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Drives a dedupe node with batched CheckAndInsert calls, keeping a fixed number of calls in
 * flight (a closed loop: a new call goes out when one returns). One thread builds and sends
 * requests; replies are counted on gRPC's transport threads.
 *
 * <p>Closed-loop latency hides queueing that an open-loop (fixed-rate) client would see
 * (coordinated omission); the figures are per request at the throughput reached, not at a
 * fixed offered rate.
 */
final class DedupeDriver implements AutoCloseable {

  /** The longest a single call may take before it counts as failed. */
  private static final Duration CALL_DEADLINE = Duration.ofSeconds(60);

  private final String target;
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final String namespace;
  private int nextChannel;

  DedupeDriver(String target, int channelCount, String namespace) {
    this.target = target;
    this.namespace = namespace;
    for (int i = 0; i < channelCount; i++) {
      // directExecutor: reply callbacks only count verdicts, so they run on the transport thread
      // and a reply costs no thread hand-off on the client.
      channels.add(NettyChannelBuilder.forTarget(target).usePlaintext().directExecutor()
          .maxInboundMessageSize(64 << 20).build());
    }
  }

  String target() {
    return target;
  }

  /** Keys the node holds for the benchmark's namespace, read fresh from every shard. */
  GetNamespaceStatsResponse stats() {
    return DedupeServiceGrpc.newBlockingStub(channels.get(0))
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .getNamespaceStats(GetNamespaceStatsRequest.newBuilder().setNamespace(namespace).build());
  }

  /** One call, to check that the node answers before timing anything. */
  void probe() {
    DedupeServiceGrpc.newBlockingStub(channels.get(0)).withDeadlineAfter(30, TimeUnit.SECONDS)
        .checkAndInsert(CheckAndInsertRequest.newBuilder().setNamespace(namespace)
            .addMessageIds("bench-probe").build());
  }

  /**
   * Sends ids from {@code workload} in calls of {@code batch} ids, {@code inFlight} at a time:
   * for {@code warmup} uncounted, then for {@code duration} counted, and waits for the last
   * counted reply.
   */
  PhaseCounter run(Workload workload, int batch, int inFlight, Duration warmup, Duration duration,
      boolean freshOnly, long maxIds) throws InterruptedException {
    PhaseCounter counter;
    Semaphore permits = new Semaphore(inFlight);
    AtomicReference<Throwable> firstError = new AtomicReference<>();
    long start = System.nanoTime();
    long measureFrom = start + warmup.toNanos();
    counter = new PhaseCounter(measureFrom);
    long end = measureFrom + duration.toNanos();
    long sentIds = 0;
    while (sentIds < maxIds) {
      if (!permits.tryAcquire(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("no reply from " + target + " within " + CALL_DEADLINE);
      }
      long now = System.nanoTime();
      if (now >= end) {
        permits.release();
        break;
      }
      int n = (int) Math.min(batch, maxIds - sentIds);
      CheckAndInsertRequest.Builder request = CheckAndInsertRequest.newBuilder().setNamespace(namespace);
      for (int i = 0; i < n; i++) {
        request.addMessageIds(freshOnly ? workload.fresh() : workload.next());
      }
      sentIds += n;
      boolean counted = now >= measureFrom;
      send(request.build(), counted ? counter : null, permits, firstError);
      if (counter.errors() > 100) {
        break;
      }
    }
    // Wait for every call in flight, bounded by the call deadline.
    if (!permits.tryAcquire(inFlight, CALL_DEADLINE.toMillis() + 5_000, TimeUnit.MILLISECONDS)) {
      throw new IllegalStateException("calls to " + target + " still in flight after " + CALL_DEADLINE);
    }
    Throwable error = firstError.get();
    if (error != null && counter.errors() > 0) {
      System.err.println("bench: " + counter.errors() + " calls failed; first: " + error);
    }
    return counter;
  }

  private void send(CheckAndInsertRequest request, PhaseCounter counter, Semaphore permits,
      AtomicReference<Throwable> firstError) {
    ManagedChannel channel = channels.get(nextChannel);
    nextChannel = (nextChannel + 1) % channels.size();
    long sent = System.nanoTime();
    DedupeServiceGrpc.newStub(channel)
        .withDeadlineAfter(CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
        .checkAndInsert(request, new StreamObserver<>() {
          private CheckAndInsertResponse response;

          @Override
          public void onNext(CheckAndInsertResponse value) {
            response = value;
          }

          @Override
          public void onError(Throwable t) {
            firstError.compareAndSet(null, t);
            if (counter != null) {
              counter.failed();
            }
            permits.release();
          }

          @Override
          public void onCompleted() {
            if (counter != null) {
              int fresh = 0;
              int dups = 0;
              for (IdResult r : response.getResultsList()) {
                if (r.getVerdict() == Verdict.VERDICT_NEW) {
                  fresh++;
                } else if (r.getVerdict() == Verdict.VERDICT_DUPLICATE) {
                  dups++;
                }
              }
              counter.replied(sent, response.getResultsCount(), fresh, dups);
            }
            permits.release();
          }
        });
  }

  /**
   * Stores {@code count} fresh ids as fast as the node takes them; returns the ids per second
   * reached. Bounded by the count, and by {@code timeLimit}.
   */
  double preload(Workload workload, long count, int batch, int inFlight, Duration timeLimit)
      throws InterruptedException {
    long start = System.nanoTime();
    PhaseCounter counter = run(workload, batch, inFlight, Duration.ZERO, timeLimit, true, count);
    if (counter.errors() > 0) {
      throw new IllegalStateException("preload: " + counter.errors() + " calls to " + target + " failed");
    }
    if (counter.idsCounted() < count) {
      throw new IllegalStateException("preload: only " + counter.idsCounted() + " of " + count
          + " ids stored within " + timeLimit);
    }
    return count / ((System.nanoTime() - start) / 1e9);
  }

  @Override
  public void close() {
    for (ManagedChannel c : channels) {
      c.shutdownNow();
    }
    for (ManagedChannel c : channels) {
      try {
        c.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
