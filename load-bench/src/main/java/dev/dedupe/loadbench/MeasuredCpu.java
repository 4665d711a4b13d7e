package dev.dedupe.loadbench;

import java.time.Duration;
import java.util.function.DoubleSupplier;

/**
 * CPU over the measured part of one measurement only: the start readings are taken when the
 * warm-up ends (on a timer thread, since the drivers run warm-up and measurement in one go),
 * the end readings when the run returns. Server CPU per id is then the server's CPU over the
 * same interval as the ids counted, not warm-up CPU spread over measured ids.
 */
final class MeasuredCpu {

  /**
   * @param serverSeconds the measured server's user + system CPU seconds, or -1 when unknown
   * @param otherCpus CPUs that others took on average (the machine's busy time less the
   *     server's and this client's, over the interval), or -1
   */
  record Used(double serverSeconds, double otherCpus) {}

  private final long[] serverPids;
  private final long[] idlePids;
  /** No local process to read: the server's CPU comes from {@code remoteServerSeconds}. */
  private final boolean remote;
  private final DoubleSupplier remoteServerSeconds;
  private final Thread timer;
  private volatile CpuClock clock;
  private volatile double remoteStart = -1;
  private volatile long startNanos;

  private MeasuredCpu(Duration warmup, long[] serverPids, long[] idlePids,
      DoubleSupplier remoteServerSeconds) {
    this.serverPids = serverPids.clone();
    this.idlePids = idlePids.clone();
    this.remote = java.util.Arrays.stream(serverPids).allMatch(p -> p < 0);
    this.remoteServerSeconds = remoteServerSeconds;
    this.timer = Thread.ofPlatform().name("bench-cpu-timer").daemon(true).start(() -> {
      try {
        Thread.sleep(warmup.toMillis());
      } catch (InterruptedException e) {
        // stop() came first: the readings start now
      }
      begin();
    });
  }

  /**
   * Starts reading after {@code warmup}.
   *
   * @param serverPid the measured server's pid when it is a local process, else -1
   * @param idlePid the other server's pid, or -1
   * @param remoteServerSeconds the measured server's CPU seconds as it reports them itself
   *     (Redis INFO), used when there is no local pid; returns -1 when unknown
   */
  static MeasuredCpu after(Duration warmup, long serverPid, long idlePid,
      DoubleSupplier remoteServerSeconds) {
    return new MeasuredCpu(warmup, new long[] {serverPid}, new long[] {idlePid},
        remoteServerSeconds);
  }

  /**
   * Starts reading after {@code warmup}, for a measured server of several local processes
   * (their CPU summed) while several other servers of this run stand idle.
   */
  static MeasuredCpu after(Duration warmup, long[] serverPids, long[] idlePids) {
    return new MeasuredCpu(warmup, serverPids, idlePids, () -> -1);
  }

  private void begin() {
    startNanos = System.nanoTime();
    if (remote) {
      remoteStart = remoteServerSeconds.getAsDouble();
    }
    clock = new CpuClock(serverPids, idlePids);
  }

  /** The CPU from the warm-up's end to now. */
  Used stop() throws InterruptedException {
    timer.interrupt();
    timer.join();
    CpuClock.Used used = clock.used();
    double seconds = (System.nanoTime() - startNanos) / 1e9;
    double server = used.server();
    if (remote) {
      double now = remoteServerSeconds.getAsDouble();
      server = remoteStart < 0 || now < 0 ? -1 : now - remoteStart;
    }
    double others = used.others();
    return new Used(server, others < 0 || seconds <= 0 ? -1 : others / seconds);
  }
}
