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

  private final long serverPid;
  private final long idlePid;
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
    this.serverPid = serverPid;
    this.idlePid = idlePid;
    this.server = serverPid < 0 ? -1 : ProcStatus.cpuSeconds(serverPid);
    this.idle = idlePid < 0 ? -1 : ProcStatus.cpuSeconds(idlePid);
    this.client = clientSeconds();
    this.machine = ProcStatus.machineBusySeconds();
  }

  Used used() {
    double s = serverPid < 0 || server < 0 ? -1 : ProcStatus.cpuSeconds(serverPid) - server;
    double i = idlePid < 0 || idle < 0 ? -1 : ProcStatus.cpuSeconds(idlePid) - idle;
    double m = machine < 0 ? -1 : ProcStatus.machineBusySeconds() - machine;
    return new Used(s, clientSeconds() - client, i, m);
  }

  static double clientSeconds() {
    return ManagementFactory.getPlatformMXBean(com.sun.management.OperatingSystemMXBean.class)
        .getProcessCpuTime() / 1e9;
  }
}
