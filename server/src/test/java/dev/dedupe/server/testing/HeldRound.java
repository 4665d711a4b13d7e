package dev.dedupe.server.testing;

import dev.dedupe.server.shard.ShardWriter;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Holds a shard writer between two rounds, so that every request submitted while it is held is
 * decided in one round once it is let go.
 *
 * <p>It parks the writer thread inside a store task and waits until that task runs. The writer
 * has then already taken its round from the queue, so requests submitted afterwards stay queued
 * together, and the writer takes them all as its next round (as long as they fit in one round).
 * Waiting for the task to start matters: a request queued before the writer takes the parked task
 * could otherwise join the parked task's round and be decided apart from the rest.
 */
public final class HeldRound {

  private static final long MAX_WAIT_SECONDS = 60;

  private final CountDownLatch letGo = new CountDownLatch(1);
  private final CompletableFuture<Object> parked;

  private HeldRound(ShardWriter writer) {
    CountDownLatch running = new CountDownLatch(1);
    parked = writer.submit(store -> {
      running.countDown();
      await(letGo);
      return null;
    });
    if (!await(running) && !parked.isDone()) {
      throw new IllegalStateException("shard " + writer.shardId() + " writer did not take the"
          + " parking task within " + MAX_WAIT_SECONDS + " s");
    }
    // A writer that is not serving fails the task at once: surface that here.
    if (parked.isCompletedExceptionally()) {
      parked.join();
    }
  }

  /** Parks {@code writer} and returns once it is parked. */
  public static HeldRound hold(ShardWriter writer) {
    return new HeldRound(writer);
  }

  /** Lets the writer go on; the requests queued meanwhile form its next round. */
  public void release() {
    letGo.countDown();
    parked.join();
  }

  private static boolean await(CountDownLatch latch) {
    try {
      return latch.await(MAX_WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
