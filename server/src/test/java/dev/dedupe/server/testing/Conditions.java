package dev.dedupe.server.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waiting for a condition, never for a time: a test polls what it relies on, with a deadline
 * generous enough for a busy two-core machine, and fails naming what did not happen.
 */
public final class Conditions {

  /** The default deadline. */
  public static final Duration LONG = Duration.ofSeconds(120);

  private Conditions() {}

  public static void await(String what, BooleanSupplier condition) throws InterruptedException {
    await(LONG, what, condition, () -> "");
  }

  /**
   * Polls {@code condition} until it holds; after {@code max}, fails with {@code what} and
   * {@code state} (what the test saw, for the failure message).
   */
  public static void await(Duration max, String what, BooleanSupplier condition,
      Supplier<String> state) throws InterruptedException {
    long until = System.nanoTime() + max.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - until > 0) {
        String seen = state.get();
        throw new AssertionError("waited " + max + " for " + what + "; it did not happen"
            + (seen.isEmpty() ? "" : ". " + seen));
      }
      Thread.sleep(20);
    }
  }
}
