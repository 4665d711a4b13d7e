package dev.dedupe.server.shard;

import static dev.dedupe.server.decision.Verdict.DUPLICATE;
import static dev.dedupe.server.decision.Verdict.IN_PROGRESS;
import static dev.dedupe.server.decision.Verdict.NEW;
import static dev.dedupe.server.shard.Caller.WAITING;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.decision.IdResult;
import dev.dedupe.server.storage.DataDirectory;
import dev.dedupe.server.storage.ShardStore;
import dev.dedupe.server.testing.HeldRound;
import dev.dedupe.server.testing.ManualClock;
import dev.dedupe.server.testing.StorageFixture;
import dev.dedupe.server.testing.TestConfigs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Dedupe semantics over real RocksDB shard stores, with the clock under the test's control. */
class ShardStorageTest {

  /** 2026-11-23T10:00:00Z: a bucket boundary for one-hour buckets. */
  private static final long T0 = 1_795_428_000_000L;

  @TempDir Path dir;
  private final ManualClock clock = new ManualClock(T0);
  private StorageFixture node;

  private StorageFixture open(Map<String, String> overrides) {
    node = new StorageFixture(TestConfigs.forDataDir(dir, overrides), clock);
    return node;
  }

  @AfterEach
  void close() {
    if (node != null) {
      node.close();
    }
  }

  @Test
  void firstCallIsNewAndLaterCallsAreDuplicatesWithTheFirstTime() {
    open(Map.of());
    IdResult[] first = node.insert("orders", "o-1", "o-2");
    assertEquals(List.of(NEW, NEW), verdicts(first));
    assertEquals(T0, first[0].firstSeenMillis());

    clock.advance(Duration.ofMinutes(5));
    IdResult[] second = node.insert("orders", "o-2", "o-3", "o-1");
    assertEquals(List.of(DUPLICATE, NEW, DUPLICATE), verdicts(second));
    assertEquals(T0, second[0].firstSeenMillis());
    assertEquals(T0 + Duration.ofMinutes(5).toMillis(), second[1].firstSeenMillis());
  }

  @Test
  void anIdRepeatedInOneRequestIsNewOnlyAtItsFirstPosition() {
    open(Map.of());
    assertEquals(List.of(NEW, NEW, DUPLICATE, DUPLICATE, NEW),
        verdicts(node.insert("orders", "a", "b", "a", "b", "c")));
  }

  @Test
  void namespacesAreSeparate() {
    open(Map.of());
    node.insert("orders", "x");
    assertEquals(List.of(NEW), verdicts(node.insert("refunds", "x")));
  }

  @Test
  void anIdIsNewAgainOnceItsWindowHasPassed() {
    open(Map.of("window.default.hours", "2"));
    node.insert("orders", "a");
    clock.advance(Duration.ofHours(2).minusMillis(1));
    assertEquals(List.of(DUPLICATE), verdicts(node.insert("orders", "a")));
    clock.advance(Duration.ofMillis(1));
    IdResult[] again = node.insert("orders", "a");
    assertEquals(List.of(NEW), verdicts(again));
    assertEquals(clock.millis(), again[0].firstSeenMillis());
    assertEquals(List.of(DUPLICATE), verdicts(node.insert("orders", "a")));
  }

  @Test
  void aWindowShorterThanABucketStillExpiresOnTime() {
    open(Map.of("window.default.hours", "0.25"));
    node.insert("orders", "a");
    clock.advance(Duration.ofMinutes(15));
    assertEquals(List.of(NEW), verdicts(node.insert("orders", "a")));
    // The new record replaced the old one in the same bucket: still one key held.
    assertEquals(1, node.retention.runOnce().keysHeld("orders"));
  }

  @Test
  void checkReportsWithoutRecording() {
    open(Map.of());
    IdResult[] checked = node.check("orders", "a", "a");
    assertEquals(List.of(NEW, NEW), verdicts(checked));
    assertEquals(IdResult.NOT_RECORDED, checked[0].firstSeenMillis());
    assertEquals(List.of(NEW), verdicts(node.insert("orders", "a")));
    assertEquals(List.of(DUPLICATE), verdicts(node.check("orders", "a")));
  }

  @Test
  void forgetMakesTheNextInsertNew() {
    open(Map.of());
    node.insert("orders", "a", "b");
    assertArrayEquals(new boolean[] {true, false}, node.forget("orders", "a", "never-seen"));
    assertEquals(List.of(NEW, DUPLICATE), verdicts(node.insert("orders", "a", "b")));
    assertEquals(2, node.retention.runOnce().keysHeld("orders"));
  }

  @Test
  void forgetRemovesRecordsInEveryBucket() {
    open(Map.of("window.default.hours", "1"));
    node.insert("orders", "a");
    clock.advance(Duration.ofHours(1));
    node.insert("orders", "a"); // past the window: NEW again, a second record in a newer bucket
    assertEquals(2, node.retention.runOnce().keysHeld("orders"));
    node.forget("orders", "a");
    assertEquals(0, node.retention.runOnce().keysHeld("orders"));
  }

  @Test
  void requestsDecidedInOneRoundSeeEachOther() throws Exception {
    open(Map.of("storage.shards", "1"));
    node.insert("orders", "kept");
    ShardWriter writer = node.shards.writer(0);
    CountDownLatch hold = new CountDownLatch(1);
    // Park the writer so that everything below is queued and decided in one round.
    CompletableFuture<Object> parked = writer.submit(store -> {
      await(hold);
      return null;
    });
    long window = Duration.ofHours(24).toMillis();
    byte[] a = ShardHash.digest("orders", "a");
    byte[] kept = ShardHash.digest("orders", "kept");
    var insertA = writer.checkAndInsert("orders", window, List.of(a), "", 0, List.of(), WAITING);
    var forgetBoth = writer.forget("orders", window, List.of(a, kept), WAITING);
    var insertBoth = writer.checkAndInsert("orders", window, List.of(a, kept, a), "", 0, List.of(), WAITING);
    var check = writer.check("orders", window, List.of(a, kept), WAITING);
    hold.countDown();
    parked.join();

    assertEquals(List.of(NEW), verdicts(insertA.join()));
    assertArrayEquals(new boolean[] {true, true}, forgetBoth.join());
    assertEquals(List.of(NEW, NEW, DUPLICATE), verdicts(insertBoth.join()));
    assertEquals(List.of(DUPLICATE, DUPLICATE), verdicts(check.join()));
    assertEquals(2, node.retention.runOnce().keysHeld("orders"));
  }

  @Test
  void forgetThenInsertInOneRoundKeepsTheNewRecord() {
    open(Map.of("storage.shards", "1"));
    node.insert("orders", "a");
    ShardWriter writer = node.shards.writer(0);
    long window = Duration.ofHours(24).toMillis();
    byte[] a = ShardHash.digest("orders", "a");

    HeldRound round = HeldRound.hold(writer);
    var forget = writer.forget("orders", window, List.of(a), WAITING);
    var insert = writer.checkAndInsert("orders", window, List.of(a), "", 0, List.of(), WAITING);
    round.release();

    assertArrayEquals(new boolean[] {true}, forget.join());
    assertEquals(List.of(NEW), verdicts(insert.join()));
    // The round answered NEW, so its write must leave that record in place: one NEW per id.
    assertEquals(List.of(DUPLICATE), verdicts(node.insert("orders", "a")));
    assertEquals(Map.of("orders", 1L), writer.submit(ShardStore::namespaceKeyCounts).join());
  }

  @Test
  void releaseThenTakeoverInOneRoundLeavesOneLiveLease() {
    open(Map.of("storage.shards", "1"));
    ShardWriter writer = node.shards.writer(0);
    long window = Duration.ofHours(24).toMillis();
    long lease = Duration.ofMinutes(10).toMillis();
    byte[] a = ShardHash.digest("orders", "a");
    assertEquals(List.of(NEW), verdicts(
        writer.checkAndInsert("orders", window, List.of(a), "T", lease, List.of(), WAITING).join()));

    HeldRound round = HeldRound.hold(writer);
    var release = writer.release("orders", window, List.of(a), "T", WAITING);
    var takeover = writer.checkAndInsert("orders", window, List.of(a), "U", lease, List.of(), WAITING);
    round.release();

    assertTrue(release.join()[0].ok());
    IdResult taken = takeover.join()[0];
    assertEquals(NEW, taken.verdict());
    // U holds the lease now: another attempt must wait for it, not get a second lease.
    IdResult other =
        writer.checkAndInsert("orders", window, List.of(a), "V", lease, List.of(), WAITING).join()[0];
    assertEquals(IN_PROGRESS, other.verdict());
    assertEquals(taken.leaseExpiresMillis(), other.leaseExpiresMillis());
    assertTrue(writer.commit("orders", window, List.of(a), "U", List.of(), WAITING).join()[0].ok());
    assertEquals(Map.of("orders", 1L), writer.submit(ShardStore::namespaceKeyCounts).join());
  }

  @Test
  void aLeaseTakenOverInALaterBucketReplacesTheExpiredRecord() {
    open(Map.of("storage.shards", "1"));
    ShardWriter writer = node.shards.writer(0);
    long window = Duration.ofHours(24).toMillis();
    byte[] a = ShardHash.digest("orders", "a");
    long lease = Duration.ofMinutes(10).toMillis();
    assertEquals(List.of(NEW), verdicts(
        writer.checkAndInsert("orders", window, List.of(a), "T", lease, List.of(), WAITING).join()));
    clock.advance(Duration.ofHours(1)); // the next bucket; T's lease ran out long ago
    IdResult[] takeover = writer.checkAndInsert("orders", window, List.of(a), "U", lease, List.of(), WAITING).join();
    assertEquals(List.of(NEW), verdicts(takeover));
    assertEquals(1, node.retention.runOnce().keysHeld("orders"));
    assertEquals(false, writer.commit("orders", window, List.of(a), "T", List.of(), WAITING).join()[0].ok());
    assertEquals(true, writer.commit("orders", window, List.of(a), "U", List.of(), WAITING).join()[0].ok());
    assertEquals(List.of(DUPLICATE), verdicts(node.insert("orders", "a")));
  }

  @Test
  void recordsSurviveAReopen() {
    open(Map.of());
    String[] ids = IntStream.range(0, 500).mapToObj(i -> "id-" + i).toArray(String[]::new);
    node.insert("orders", ids);
    node.reopen();
    assertTrue(verdicts(node.insert("orders", ids)).stream().allMatch(v -> v == DUPLICATE));
    assertEquals(500, node.retention.runOnce().keysHeld("orders"));
  }

  @Test
  void bucketsPastEveryWindowAreDroppedWhole() {
    open(Map.of("window.default.hours", "2", "storage.shards", "2"));
    node.insert("orders", "old-1", "old-2");
    clock.advance(Duration.ofHours(1));
    node.insert("orders", "newer");
    NodeFigures before = node.retention.runOnce();
    assertEquals(3, before.keysHeld("orders"));
    assertEquals(T0, before.oldestBucketStartMillis());

    // The first bucket ends at T0+1h; past a 2 h window at T0+3h, so it goes whole.
    clock.advance(Duration.ofHours(2));
    NodeFigures after = node.retention.runOnce();
    assertEquals(1, after.keysHeld("orders"));
    assertEquals(T0 + Duration.ofHours(1).toMillis(), after.oldestBucketStartMillis());
    // Expiry is not budget pressure: the full window is still in force.
    assertEquals(Duration.ofHours(2), after.effectiveWindow("orders", node.config.windows()));
  }

  @Test
  void overTheDiskBudgetTheOldestBucketGoesAndTheWindowShrinks() {
    // A budget of 1 byte: nothing but the current bucket fits.
    open(Map.of("storage.disk-budget.bytes", "1", "storage.shards", "2"));
    node.insert("orders", "first-hour");
    clock.advance(Duration.ofHours(1));
    node.insert("orders", "second-hour");
    clock.advance(Duration.ofMinutes(30));

    NodeFigures figures = node.retention.runOnce();
    assertEquals(1, figures.keysHeld("orders"));
    assertEquals(T0 + Duration.ofHours(1).toMillis(), figures.budgetHorizonMillis());
    assertEquals(Duration.ofMinutes(30), figures.effectiveWindow("orders", node.config.windows()));

    // The honest consequence: an id from the dropped bucket is NEW again; a newer one is not.
    assertEquals(List.of(NEW, DUPLICATE), verdicts(node.insert("orders", "first-hour", "second-hour")));

    // The horizon is durable: after a restart the window is still reported as shrunk.
    node.reopen();
    assertEquals(Duration.ofMinutes(30),
        node.retention.runOnce().effectiveWindow("orders", node.config.windows()));
  }

  @Test
  void theShardCountOfADataDirectoryIsFixed() {
    open(Map.of("storage.shards", "4"));
    node.close();
    node = null;
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> DataDirectory.openOrCreate(dir, 8));
    assertTrue(e.getMessage().contains("created with 4 shards"), e.getMessage());
  }

  private static List<dev.dedupe.server.decision.Verdict> verdicts(IdResult[] results) {
    return java.util.Arrays.stream(results).map(IdResult::verdict).toList();
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
