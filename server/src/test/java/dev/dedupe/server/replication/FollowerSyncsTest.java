package dev.dedupe.server.replication;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.storage.StorageException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class FollowerSyncsTest {

  @Test
  void appendsThatAskWhileASyncRunsShareTheNextOne() throws Exception {
    AtomicInteger syncs = new AtomicInteger();
    CountDownLatch inFirst = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try (FollowerSyncs followerSyncs = new FollowerSyncs(() -> {
      if (syncs.incrementAndGet() == 1) {
        inFirst.countDown();
        await(release);
      }
    })) {
      CompletableFuture<Void> first = followerSyncs.sync();
      assertTrue(inFirst.await(30, TimeUnit.SECONDS), "the first sync began");
      List<CompletableFuture<Void>> waiting =
          List.of(followerSyncs.sync(), followerSyncs.sync(), followerSyncs.sync());
      release.countDown();
      first.get(30, TimeUnit.SECONDS);
      for (CompletableFuture<Void> f : waiting) {
        f.get(30, TimeUnit.SECONDS);
      }
      assertEquals(2, syncs.get(), "the three that asked during the first sync shared one");
    }
  }

  @Test
  void aFailedSyncFailsEveryAppendItCovered() throws Exception {
    StorageException broken = new StorageException("disk full");
    try (FollowerSyncs followerSyncs = new FollowerSyncs(() -> {
      throw broken;
    })) {
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> followerSyncs.sync().get(30, TimeUnit.SECONDS));
      assertSame(broken, e.getCause());
    }
  }

  @Test
  void afterCloseNoAppendIsToldItIsDurable() throws Exception {
    FollowerSyncs followerSyncs = new FollowerSyncs(() -> { });
    followerSyncs.close();
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> followerSyncs.sync().get(30, TimeUnit.SECONDS));
    assertInstanceOf(StorageException.class, e.getCause());
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
