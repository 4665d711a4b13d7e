package dev.dedupe.loadbench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads a process's resident memory from Linux's /proc. */
final class ProcStatus {

  private ProcStatus() {}

  /** VmRSS of {@code pid} in bytes, or -1 when /proc does not say (not Linux, process gone). */
  static long residentBytes(long pid) {
    return field(pid, "VmRSS:");
  }

  /** VmHWM (the peak resident memory) of {@code pid} in bytes, or -1. */
  static long peakResidentBytes(long pid) {
    return field(pid, "VmHWM:");
  }

  /** User plus system CPU seconds {@code pid} has used, or -1 when /proc does not say. */
  static double cpuSeconds(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      // Fields after the command name, which is in parentheses and may hold spaces.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
      // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      return ticks / (double) CLOCK_TICKS;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /**
   * CPU seconds the whole machine has been busy (all CPUs, everything but idle and I/O wait),
   * from /proc/stat, or -1. Minus the server's and the client's own, it shows what other
   * processes took from a run.
   */
  static double machineBusySeconds() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      // cpu user nice system idle iowait irq softirq steal
      long busy = Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3])
          + Long.parseLong(f[6]) + Long.parseLong(f[7]) + Long.parseLong(f[8]);
      return busy / (double) CLOCK_TICKS;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** USER_HZ: 100 on every Linux that Java runs on (sysconf(_SC_CLK_TCK)). */
  private static final int CLOCK_TICKS = 100;

  private static long field(long pid, String name) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith(name)) {
          // "VmRSS:	  123456 kB"
          String[] parts = line.substring(name.length()).trim().split("\\s+");
          return Long.parseLong(parts[0]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }
}
