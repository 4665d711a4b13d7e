package dev.dedupe.loadbench;

import java.lang.management.ManagementFactory;

/**
 * CPU seconds used, from a start reading to an end reading, by the measured server process
 * (when it is a local process this run started), by this client, by this run's other server
 * (the idle one: the dedupe node while Redis is measured, and the other way round), and by the
 * whole machine. What is left of the machine's busy time was taken by others: other processes
 * and the idle server's background work.
 */
final class CpuClock {

  /**
   * CPU seconds over the interval; a figure is -1 when unknown.
   *
   * @param server the measured server
   * @param client this benchmark client
   * @param idleServer this run's other server, which should be idle (compaction may run)
   * @param machine every CPU of the machine, busy time
   */
  record Used(double server, double client, double idleServer, double machine) {

    /**
     * Busy time of everything but the measured server and this client, or -1: other
     * processes, and this run's idle server too (compaction or an AOF rewrite catching up),
     * since either takes CPU from the measured one.
     */
    double others() {
      if (machine < 0) {
        return -1;
      }
      return Math.max(0, machine - Math.max(0, server) - client);
    }
  }

  private final long[] serverPids;
  private final long[] idlePids;
  private final double server;
  private final double idle;
  private final double client;
  private final double machine;

  /**
   * Starts counting now.
   *
   * @param serverPid the measured server's pid, or -1 when it is not a local process
   * @param idlePid the other server's pid, or -1
   */
  CpuClock(long serverPid, long idlePid) {
    this(new long[] {serverPid}, new long[] {idlePid});
  }

  /**
   * Starts counting now, for a measured server of several processes (the nodes of a cluster, a
   * Redis primary and its replica): its figure is their sum.
   *
   * @param serverPids the measured server's processes; none, or a negative one, when it is not
   *     (all) local, and its figure is then unknown
   * @param idlePids this run's other servers' processes (negative ones are left out)
   */
  CpuClock(long[] serverPids, long[] idlePids) {
    this.serverPids = serverPids.clone();
    this.idlePids = java.util.Arrays.stream(idlePids).filter(p -> p >= 0).toArray();
    this.server = sum(this.serverPids);
    this.idle = sum(this.idlePids);
    this.client = clientSeconds();
    this.machine = ProcStatus.machineBusySeconds();
  }

  Used used() {
    double s = server < 0 ? -1 : minus(sum(serverPids), server);
    double i = idle < 0 ? -1 : minus(sum(idlePids), idle);
    double m = machine < 0 ? -1 : ProcStatus.machineBusySeconds() - machine;
    return new Used(s, clientSeconds() - client, i, m);
  }

  private static double minus(double now, double before) {
    return now < 0 ? -1 : now - before;
  }

  /**
   * The CPU seconds of {@code pids} together: -1 when there is none, when one is negative (not
   * a local process) or when /proc does not know one (a process gone).
   */
  static double sum(long[] pids) {
    if (pids.length == 0) {
      return -1;
    }
    double total = 0;
    for (long pid : pids) {
      double s = pid < 0 ? -1 : ProcStatus.cpuSeconds(pid);
      if (s < 0) {
        return -1;
      }
      total += s;
    }
    return total;
  }

  static double clientSeconds() {
    return ManagementFactory.getPlatformMXBean(com.sun.management.OperatingSystemMXBean.class)
        .getProcessCpuTime() / 1e9;
  }
}
