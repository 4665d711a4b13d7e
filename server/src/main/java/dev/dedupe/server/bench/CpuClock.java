package dev.dedupe.server.bench;

import java.lang.management.ManagementFactory;

/**
 * CPU seconds used by the server process (when its pid is known), by this client, and by the
 * whole machine, from a start reading to an end reading. The measured window includes the
 * warm-up; the figures are for judging who used the CPU, not for dividing by ids exactly.
 */
final class CpuClock {

  /** CPU seconds over the interval; server is -1 when the server is not a local process. */
  record Used(double server, double client, double machine) {}

  private final long serverPid;
  private final double server;
  private final double client;
  private final double machine;

  /** Starts counting now; {@code serverPid} is -1 when the server is not a known local process. */
  CpuClock(long serverPid) {
    this.serverPid = serverPid;
    this.server = serverPid < 0 ? -1 : ProcStatus.cpuSeconds(serverPid);
    this.client = clientSeconds();
    this.machine = ProcStatus.machineBusySeconds();
  }

  Used used() {
    double s = serverPid < 0 || server < 0 ? -1 : ProcStatus.cpuSeconds(serverPid) - server;
    double m = machine < 0 ? -1 : ProcStatus.machineBusySeconds() - machine;
    return new Used(s, clientSeconds() - client, m);
  }

  static double clientSeconds() {
    return ManagementFactory.getPlatformMXBean(com.sun.management.OperatingSystemMXBean.class)
        .getProcessCpuTime() / 1e9;
  }
}
