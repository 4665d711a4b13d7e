package dev.dedupe.loadbench;

import java.io.PrintStream;

/**
 * Runs a bench so that the servers it started (a dedupe node, a private redis-server) are
 * stopped however it ends: normally, by an exception, or by Ctrl-C or SIGTERM, through a
 * shutdown hook. The clean-up may therefore run twice, and must not mind.
 */
final class StopsWhatItStarted {

  /** The bench's own work. */
  @FunctionalInterface
  interface Body {
    void run() throws InterruptedException;
  }

  private StopsWhatItStarted() {}

  /** Runs {@code body}, then {@code cleanUp}; 0 when done, 1 when interrupted. */
  static int run(Body body, Runnable cleanUp, PrintStream err) {
    Thread hook = new Thread(cleanUp, "bench-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      body.run();
      return 0;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      err.println("dedupe: interrupted");
      return 1;
    } finally {
      cleanUp.run();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // already shutting down: the hook is running or ran
      }
    }
  }
}
