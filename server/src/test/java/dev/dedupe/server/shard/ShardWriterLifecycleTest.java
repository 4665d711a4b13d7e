package dev.dedupe.server.shard;

import dev.dedupe.server.replication.ShardReplica;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import static dev.dedupe.server.decision.Verdict.DUPLICATE;
import static dev.dedupe.server.decision.Verdict.NEW;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.ServerConfig;
import dev.dedupe.server.decision.IdResult;
import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.DataDirectory;
import dev.dedupe.server.storage.NodeStore;
import dev.dedupe.server.storage.StorageResources;
import dev.dedupe.server.testing.ManualClock;
import dev.dedupe.server.testing.TestConfigs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A shard writer's lifecycle and its guards, over a real RocksDB store: close never closes the
 * store under a running round and never strands a request; a caller that gave up gets nothing
 * recorded; a round decided or finished while the node is fenced is never acknowledged.
 */
class ShardWriterLifecycleTest {

  private static final long WINDOW = Duration.ofHours(24).toMillis();

  @TempDir Path dir;
  private final ManualClock clock = new ManualClock(1_795_428_000_000L);
  private StorageResources resources;
  private NodeStore nodeStore;
  private ShardSet shards;

  /**
   * A shard log for these tests: the replica leads while {@code leading} says so, and a round's
   * commit fails while {@code commitFails} says so (a leader deposed, or paused past its
   * lease, while the round was being written).
   */
  private record ScriptedLog(BooleanSupplier leading, BooleanSupplier commitFails)
      implements ShardLog {
    @Override
    public void opened(dev.dedupe.server.storage.ShardStore store) { }

    @Override
    public long leaderEpoch() {
      return leading.getAsBoolean() ? 1 : -1;
    }

    @Override
    public boolean readsNeedCommit() {
      return false;
    }

    @Override
    public void appended(dev.dedupe.server.storage.LogEntry entry) { }

    @Override
    public void whenCommitted(long seq, Runnable replies, Consumer<RuntimeException> failed) {
      if (commitFails.getAsBoolean()) {
        failed.accept(new ShardFencedException(0, true));
      } else {
        replies.run();
      }
    }
  }

  private ShardWriter open() {
    return open(ShardReplica.alone(0));
  }

  private ShardWriter open(ShardLog log) {
    ServerConfig config = TestConfigs.forDataDir(dir, Map.of("storage.shards", "1"));
    DataDirectory data = DataDirectory.openOrCreate(config.storage().dataDir(), 1);
    if (resources == null) {
      resources = new StorageResources(config.storage());
      nodeStore = NodeStore.open(data, resources);
    }
    shards = new ShardSet(nodeStore, new BucketGrid(config.storage().bucketWidth()), clock, s -> log);
    shards.open(List.of(0));
    return shards.writer(0);
  }

  @AfterEach
  void closeAll() {
    if (shards != null) {
      shards.close();
    }
    if (nodeStore != null) {
      nodeStore.close();
    }
    if (resources != null) {
      resources.close();
    }
  }

  @Test
  void anInterruptedCloseStillLetsTheWriterFinishItsQueueBeforeTheStoreCloses() throws Exception {
    ShardWriter writer = open();
    CountDownLatch hold = new CountDownLatch(1);
    CompletableFuture<Object> parked = writer.submit(store -> {
      awaitQuietly(hold);
      return null;
    });
    CompletableFuture<IdResult[]> queued = insert(writer, "a", "", Caller.WAITING);

    AtomicBoolean interruptKept = new AtomicBoolean();
    Thread closer = Thread.ofPlatform().start(() -> {
      writer.close();
      interruptKept.set(Thread.currentThread().isInterrupted());
    });
    awaitCondition("close() is waiting for the writer",
        () -> closer.getState() == Thread.State.WAITING);
    closer.interrupt();
    // Before the fix, the interrupted close closed the store here, under the parked round,
    // and failed the queued request.
    hold.countDown();
    closer.join(TimeUnit.SECONDS.toMillis(60));
    assertTrue(!closer.isAlive(), "close() did not return after the writer finished");
    assertTrue(interruptKept.get(), "close() must restore the caller's interrupt");
    parked.get(60, TimeUnit.SECONDS);
    assertEquals(NEW, queued.get(60, TimeUnit.SECONDS)[0].verdict(),
        "a request queued before close is decided, not failed");

    shards.close();
    ShardWriter reopened = open();
    assertEquals(DUPLICATE, insert(reopened, "a", "", Caller.WAITING).join()[0].verdict(),
        "the request acknowledged before close is durable");
  }

  @Test
  void everyRequestCompletesWhenCloseRacesWithCallers() throws Exception {
    for (int round = 0; round < 6; round++) {
      ShardWriter writer = open();
      List<CompletableFuture<IdResult[]>> sent = java.util.Collections.synchronizedList(
          new ArrayList<>());
      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger next = new AtomicInteger();
      List<Thread> callers = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        callers.add(Thread.ofPlatform().start(() -> {
          for (int i = 0; i < 400 && !stop.get(); i++) {
            sent.add(insert(writer, "r" + next.incrementAndGet(), "", Caller.WAITING));
          }
        }));
      }
      awaitCondition("callers are sending", () -> sent.size() > 50);
      writer.close();
      stop.set(true);
      for (Thread c : callers) {
        c.join();
      }
      synchronized (sent) {
        for (CompletableFuture<IdResult[]> f : sent) {
          try {
            f.get(60, TimeUnit.SECONDS);
          } catch (ExecutionException answeredWithAFailure) {
            // Refused because the shard closed: completed, which is what counts.
          } catch (TimeoutException stranded) {
            fail("a request sent while the writer closed was never completed (round " + round + ")");
          }
        }
      }
      shards.close();
    }
  }

  @Test
  void aRequestWhoseCallerGaveUpBeforeItsRoundIsNotRecorded() throws Exception {
    ShardWriter writer = open();
    CountDownLatch hold = new CountDownLatch(1);
    writer.submit(store -> {
      awaitQuietly(hold);
      return null;
    });
    AtomicBoolean gaveUp = new AtomicBoolean();
    CompletableFuture<IdResult[]> abandoned = insert(writer, "gone", "t1", gaveUp::get);
    CompletableFuture<IdResult[]> kept = insert(writer, "kept", "t2", Caller.WAITING);
    gaveUp.set(true);   // its deadline passes while it waits behind the parked round
    hold.countDown();

    ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
        ExecutionException.class, () -> abandoned.get(60, TimeUnit.SECONDS));
    assertInstanceOf(CallerGaveUpException.class, e.getCause());
    assertEquals(NEW, kept.get(60, TimeUnit.SECONDS)[0].verdict());
    IdResult later = insert(writer, "gone", "other", Caller.WAITING).join()[0];
    assertEquals(NEW, later.verdict(), "nothing was recorded for the caller that gave up");
    assertEquals(false, later.replay());
  }

  @Test
  void aRoundWhileFencedRecordsNothing() {
    AtomicBoolean serving = new AtomicBoolean(false);
    ShardWriter writer = open(new ScriptedLog(serving::get, () -> false));
    CompletionException refused = org.junit.jupiter.api.Assertions.assertThrows(
        CompletionException.class, () -> insert(writer, "x", "t", Caller.WAITING).join());
    assertInstanceOf(ShardFencedException.class, refused.getCause());
    serving.set(true);
    IdResult after = insert(writer, "x", "other", Caller.WAITING).join()[0];
    assertEquals(NEW, after.verdict());
    assertEquals(false, after.replay(), "the fenced round recorded nothing");
  }

  @Test
  void aRoundThatEndsAfterTheFenceClosedIsNotAcknowledgedAndItsTokenReplays() {
    // Serving when the round starts, fenced by the time its write returns: a pause mid-round.
    AtomicBoolean pausedMidRound = new AtomicBoolean(true);
    ShardWriter writer = open(new ScriptedLog(() -> true, pausedMidRound::get));
    CompletionException refused = org.junit.jupiter.api.Assertions.assertThrows(
        CompletionException.class, () -> insert(writer, "y", "mine", Caller.WAITING).join());
    assertInstanceOf(ShardFencedException.class, refused.getCause());
    pausedMidRound.set(false);
    IdResult retry = insert(writer, "y", "mine", Caller.WAITING).join()[0];
    assertEquals(NEW, retry.verdict(), "the caller's own retry hears NEW, never DUPLICATE");
    assertTrue(retry.replay(), "the ids were recorded by the unacknowledged round");
    assertEquals(DUPLICATE, insert(writer, "y", "someone-else", Caller.WAITING).join()[0].verdict());
  }

  private static CompletableFuture<IdResult[]> insert(
      ShardWriter writer, String id, String token, Caller caller) {
    return writer.checkAndInsert("orders", WINDOW, List.of(ShardHash.digest("orders", id)), token,
        0, List.of(), caller);
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      if (!latch.await(120, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the test never released the writer");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void awaitCondition(String what, java.util.function.BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("not within 60 s: " + what);
      }
      Thread.sleep(5);
    }
  }
}
