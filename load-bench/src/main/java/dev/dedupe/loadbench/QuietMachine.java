package dev.dedupe.loadbench;

import java.time.Duration;
import java.util.Locale;

/**
 * Waits, up to a limit, until processes other than this run's use less than a tenth of a CPU,
 * so that a build or test run elsewhere on a small machine does not land in the figures.
 */
final class QuietMachine {

  private QuietMachine() {}

  /**
   * Waits; returns null when the machine went quiet (or {@code wait} is zero), else a warning
   * that says how busy it stayed.
   *
   * @param serverPid a server of this run, or -1
   * @param otherServerPid the other server of this run, or -1
   */
  static String await(Duration wait, long serverPid, long otherServerPid)
      throws InterruptedException {
    return await(wait, new long[] {serverPid}, new long[] {otherServerPid}, false);
  }

  /**
   * Waits as above, for a measured server of several processes (a cluster's nodes, a Redis
   * primary and its replica) while many of this run's processes stand idle ({@code idlePids}).
   * Their CPU is left out here, unlike the one idle server's above: a few idle JVMs (session
   * heartbeats, compiler threads, maintenance) together take about a tenth of a CPU, which no
   * wait would remove. The measurement still reports it among the other CPUs.
   */
  static String await(Duration wait, long[] serverPids, long[] idlePids)
      throws InterruptedException {
    return await(wait, serverPids, idlePids, true);
  }

  private static String await(Duration wait, long[] serverPids, long[] idlePids,
      boolean leaveIdleOut) throws InterruptedException {
    if (wait.isZero()) {
      return null;
    }
    long deadline = System.nanoTime() + wait.toNanos();
    double others;
    do {
      CpuClock clock = new CpuClock(serverPids, idlePids);
      Thread.sleep(2_000);
      CpuClock.Used used = clock.used();
      double idle = leaveIdleOut ? Math.max(0, used.idleServer()) : 0;
      others = used.others() < 0 ? -1 : Math.max(0, used.others() - idle) / 2.0;
      if (others >= 0 && others < 0.1) {
        return null;
      }
    } while (System.nanoTime() < deadline);
    return String.format(Locale.ROOT, "the machine stayed busy: other processes used %.2f CPUs"
        + " when a measurement began (after waiting %d s)", others, wait.toSeconds());
  }
}
