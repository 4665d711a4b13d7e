package dev.dedupe.rabbitmq;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waits for a condition, never for a time: generous deadlines for a busy two-core machine. */
final class Await {

  static final Duration LONG = Duration.ofSeconds(120);

  private Await() {}

  static void until(String what, BooleanSupplier condition) throws InterruptedException {
    until(LONG, what, condition, () -> "");
  }

  static void until(Duration max, String what, BooleanSupplier condition, Supplier<String> state)
      throws InterruptedException {
    long until = System.nanoTime() + max.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - until > 0) {
        throw new AssertionError("waited " + max + " for " + what + "; it did not happen. "
            + state.get());
      }
      Thread.sleep(20);
    }
  }
}
