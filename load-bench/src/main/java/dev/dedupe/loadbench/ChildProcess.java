package dev.dedupe.loadbench;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** Stopping the servers the bench tool started. */
final class ChildProcess {

  private ChildProcess() {}

  /**
   * Asks {@code process} to stop (SIGTERM: a dedupe node drains and syncs, Redis flushes its
   * AOF), waits up to {@code grace}, then kills it.
   */
  static void stop(Process process, Duration grace) {
    if (!process.isAlive()) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }
}
