package dev.dedupe.loadbench;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Counts one timed run: requests, ids by verdict, errors, and request latency in an
 * HdrHistogram (microsecond resolution to one minute, 3 significant digits). Thread-safe:
 * reply callbacks on any thread record here.
 *
 * <p>Only requests sent after the warm-up are counted, so a reply that straddles the boundary
 * never lands in the measured figures. The measured time runs from the end of the warm-up to
 * the last counted reply.
 */
final class PhaseCounter {

  private final Recorder latency = new Recorder(TimeUnit.MINUTES.toMicros(1), 3);
  private final LongAdder requests = new LongAdder();
  private final LongAdder ids = new LongAdder();
  private final LongAdder newIds = new LongAdder();
  private final LongAdder duplicates = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private final long measureFromNanos;
  private volatile long lastReplyNanos;

  /** @param measureFromNanos the end of the warm-up ({@link System#nanoTime}) */
  PhaseCounter(long measureFromNanos) {
    this.measureFromNanos = measureFromNanos;
  }

  /** Records a request that was sent at {@code sentNanos} and answered now. */
  void replied(long sentNanos, int idCount, int fresh, int dups) {
    long now = System.nanoTime();
    latency.recordValue(Math.max(1, (now - sentNanos) / 1000));
    requests.increment();
    ids.add(idCount);
    newIds.add(fresh);
    duplicates.add(dups);
    synchronized (this) {
      lastReplyNanos = Math.max(lastReplyNanos, now);
    }
  }

  void failed() {
    errors.increment();
  }

  long idsCounted() {
    return ids.sum();
  }

  long errors() {
    return errors.sum();
  }

  BenchResult.Phase finish(String system, long keysBefore, long keysAfter, int batch,
      int inFlight, CpuClock.Used cpu) {
    Histogram h = latency.getIntervalHistogram();
    long end = lastReplyNanos == 0 ? measureFromNanos : lastReplyNanos;
    double seconds = Math.max(1e-9, (end - measureFromNanos) / 1e9);
    long n = ids.sum();
    return new BenchResult.Phase(system, keysBefore, keysAfter, batch, inFlight, seconds,
        requests.sum(), n, newIds.sum(), duplicates.sum(), errors.sum(), n / seconds,
        millis(h, 50), millis(h, 99), millis(h, 99.9),
        h.getTotalCount() == 0 ? 0 : h.getMaxValue() / 1000.0, cpu.server(), cpu.client(),
        cpu.others());
  }

  private static double millis(Histogram h, double percentile) {
    return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(percentile) / 1000.0;
  }
}
