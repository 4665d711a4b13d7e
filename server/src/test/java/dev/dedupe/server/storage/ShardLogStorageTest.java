package dev.dedupe.server.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.testing.TestConfigs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksIterator;

/**
 * A shard's log as storage keeps it: entries apply in order with their position and epochs,
 * two stores that apply the same entries hold the same data, entries survive the codec, and a
 * snapshot installed on another node is the same shard with a new identity; an install cut
 * short leaves the shard empty, never half-copied.
 */
class ShardLogStorageTest {

  private static final long T0 = 1_795_428_000_000L;
  private static final long HOUR = Duration.ofHours(1).toMillis();

  @TempDir Path dirA;
  @TempDir Path dirB;
  private final BucketGrid grid = new BucketGrid(Duration.ofHours(1));
  private StorageResources resources;
  private NodeStore nodeA;
  private NodeStore nodeB;

  @BeforeEach
  void open() {
    resources = new StorageResources(TestConfigs.forDataDir(dirA, Map.of()).storage());
    nodeA = NodeStore.open(DataDirectory.openOrCreate(dirA, 2), resources);
    nodeB = NodeStore.open(DataDirectory.openOrCreate(dirB, 2), resources);
  }

  @AfterEach
  void close() {
    nodeA.close();
    nodeB.close();
    resources.close();
  }

  @Test
  void aFollowerThatAppliesTheLeadersEntriesHoldsTheSameData() {
    Random random = new Random(42);
    try (RocksShardStore leader = nodeA.openShard(0, grid);
        RocksShardStore follower = nodeB.openShard(0, grid)) {
      List<byte[]> shipped = new ArrayList<>();
      for (int round = 0; round < 200; round++) {
        long epoch = 1 + round / 80;
        ShardWrite write = randomRound(leader, random, round);
        LogEntry entry = leader.prepare(write, epoch, leader.position().seq() + 1);
        leader.apply(entry);
        shipped.add(LogEntryCodec.encode(entry));
        if (round == 120) {
          LogEntry drop = new LogEntry(epoch, leader.position().seq() + 1,
              List.of(new LogEntry.DropBucket(T0), LogEntry.budgetHorizon(T0 + HOUR)));
          leader.apply(drop);
          shipped.add(LogEntryCodec.encode(drop));
        }
      }
      for (byte[] bytes : shipped) {
        follower.applyWithoutSync(LogEntryCodec.decode(bytes));
      }
      nodeB.syncWal();
      assertEquals(leader.position(), follower.position());
      assertEquals(leader.epochHistory(), follower.epochHistory());
      assertEquals(List.of(new EpochStart(1, 1), new EpochStart(2, 81), new EpochStart(3, 162)),
          leader.epochHistory());
      assertEquals(T0 + HOUR, follower.budgetHorizonMillis());
      assertEquals(contents(leader), contents(follower));
      assertEquals(leader.namespaceKeyCounts(), follower.namespaceKeyCounts());
    }
  }

  @Test
  void theLogPositionAndEpochsSurviveARestart() {
    LogPosition at;
    try (RocksShardStore store = nodeA.openShard(1, grid)) {
      store.apply(new LogEntry(3, 1, List.of()));
      store.apply(store.prepare(randomRound(store, new Random(1), 0), 4, 2));
      at = store.position();
    }
    nodeA.close();
    nodeA = NodeStore.open(DataDirectory.openOrCreate(dirA, 2), resources);
    try (RocksShardStore store = nodeA.openShard(1, grid)) {
      assertEquals(new LogPosition(4, 2), at);
      assertEquals(at, store.position());
      assertEquals(List.of(new EpochStart(3, 1), new EpochStart(4, 2)), store.epochHistory());
    }
  }

  @Test
  void anEntryThatDoesNotFollowThePositionIsRefusedAndChangesNothing() {
    try (RocksShardStore store = nodeA.openShard(0, grid)) {
      store.apply(new LogEntry(2, 1, List.of()));
      LogEntry gap = new LogEntry(2, 3, List.of(new LogEntry.EnsureBucket(T0)));
      assertThrows(IllegalStateException.class, () -> store.apply(gap));
      LogEntry older = new LogEntry(1, 2, List.of());
      assertThrows(IllegalStateException.class, () -> store.apply(older));
      assertEquals(new LogPosition(2, 1), store.position());
      assertEquals(List.of(), store.bucketStarts());
    }
  }

  @Test
  void theCodecRoundTripsEveryOpAndRefusesGarbage() {
    LogEntry entry = new LogEntry(7, 99, List.of(
        new LogEntry.EnsureBucket(T0), new LogEntry.Put(T0, new byte[] {1, 2}, new byte[] {3}),
        new LogEntry.Delete(T0, new byte[] {4}), new LogEntry.DropBucket(T0 - HOUR),
        LogEntry.budgetHorizon(T0)));
    LogEntry back = LogEntryCodec.decode(LogEntryCodec.encode(entry));
    assertEquals(entry.position(), back.position());
    assertEquals(entry.ops().size(), back.ops().size());
    assertArrayEquals(((LogEntry.Put) entry.ops().get(1)).key(),
        ((LogEntry.Put) back.ops().get(1)).key());
    byte[] bytes = LogEntryCodec.encode(entry);
    assertThrows(StorageException.class,
        () -> LogEntryCodec.decode(java.util.Arrays.copyOf(bytes, bytes.length - 3)));
    byte[] badVersion = bytes.clone();
    badVersion[0] = 9;
    assertThrows(StorageException.class, () -> LogEntryCodec.decode(badVersion));
  }

  @Test
  void aSnapshotInstalledOnAnotherNodeIsTheSameShardWithANewIdentity() {
    Random random = new Random(7);
    try (RocksShardStore leader = nodeA.openShard(0, grid)) {
      for (int round = 0; round < 60; round++) {
        leader.apply(leader.prepare(randomRound(leader, random, round), 5, leader.position().seq() + 1));
      }
      String oldFollowerStore;
      try (RocksShardStore old = nodeB.openShard(0, grid)) {
        oldFollowerStore = old.storeId();
        old.apply(old.prepare(randomRound(old, new Random(99), 0), 4, 1)); // a divergent entry
      }
      ShardInstall install = nodeB.beginInstall(0);
      try (ShardSnapshot snapshot = leader.openSnapshot()) {
        // The leader goes on meanwhile, and drops a bucket the snapshot holds.
        leader.apply(leader.prepare(randomRound(leader, random, 61), 5, leader.position().seq() + 1));
        leader.apply(new LogEntry(5, leader.position().seq() + 1,
            List.of(new LogEntry.DropBucket(T0))));
        for (SnapshotChunk c = snapshot.next(); c != null; c = snapshot.next()) {
          install.accept(SnapshotChunkCodec.decode(SnapshotChunkCodec.encode(c)));
        }
        assertEquals(new LogPosition(5, 60), install.finish());
      }
      try (RocksShardStore copy = nodeB.openShard(0, grid)) {
        assertEquals(new LogPosition(5, 60), copy.position());
        assertEquals(List.of(new EpochStart(5, 1)), copy.epochHistory());
        assertNotEquals(oldFollowerStore, copy.storeId());
        assertNotEquals(leader.storeId(), copy.storeId());
        assertTrue(copy.bucketStarts().contains(T0), "the snapshot kept the bucket dropped later");
        // The copy then follows the leader's later entries from the snapshot's position.
        assertEquals(61, copy.position().seq() + 1);
      }
    }
  }

  @Test
  void anInstallCutShortLeavesTheShardEmptyAlsoAfterACrash() {
    try (RocksShardStore leader = nodeA.openShard(0, grid)) {
      for (int round = 0; round < 20; round++) {
        leader.apply(leader.prepare(randomRound(leader, new Random(round), round), 1,
            leader.position().seq() + 1));
      }
      try (RocksShardStore old = nodeB.openShard(0, grid)) {
        old.apply(new LogEntry(1, 1, List.of()));
      }
      ShardInstall install = nodeB.beginInstall(0);
      try (ShardSnapshot snapshot = leader.openSnapshot()) {
        install.accept(snapshot.next()); // the header
        install.accept(snapshot.next()); // some data, then the node "crashes"
      }
    }
    nodeB.close();
    nodeB = NodeStore.open(DataDirectory.openOrCreate(dirB, 2), resources);
    try (RocksShardStore reopened = nodeB.openShard(0, grid)) {
      assertEquals(LogPosition.EMPTY, reopened.position());
      assertEquals(List.of(), reopened.bucketStarts());
    }
  }

  @Test
  void aStagedInstallSurvivesARestartAndResumedEndsTheSameShard() {
    Random random = new Random(11);
    try (RocksShardStore leader = nodeA.openShard(0, grid)) {
      for (int round = 0; round < 60; round++) {
        leader.apply(leader.prepare(randomRound(leader, random, round), 5, leader.position().seq() + 1));
      }
      List<SnapshotChunk> chunks = snapshotChunks(leader);
      long dataChunks = chunks.stream().filter(c -> c instanceof SnapshotChunk.Data).count();
      assertTrue(dataChunks >= 2, "two buckets make at least two data chunks: " + dataChunks);

      ShardInstall install = nodeB.beginInstall(0);
      install.accept(chunks.get(0)); // the header
      install.accept(chunks.get(1)); // the first data chunk
      install.stage("install-7", 5, 2);
      nodeB.close(); // the follower stops mid-copy
      nodeB = NodeStore.open(DataDirectory.openOrCreate(dirB, 2), resources);

      InstallStage kept = nodeB.stagedInstall(0).orElseThrow();
      assertEquals("install-7", kept.installId());
      assertEquals(2, kept.nextIndex());
      assertTrue(nodeB.holdsShard(0), "a kept install is data the node holds");
      assertThrows(StorageException.class, () -> nodeB.openShard(0, grid),
          "a half-installed shard never opens as if it were whole");

      ShardInstall resumed = nodeB.resumeInstall(0);
      for (SnapshotChunk c : chunks.subList(2, chunks.size())) {
        resumed.accept(c);
      }
      assertEquals(leader.position(), resumed.finish(), "the checksum and key count went on");
      assertTrue(nodeB.stagedInstall(0).isEmpty());
      try (RocksShardStore copy = nodeB.openShard(0, grid)) {
        assertEquals(leader.position(), copy.position());
        assertEquals(contents(leader), contents(copy));
        assertEquals(leader.namespaceKeyCounts(), copy.namespaceKeyCounts());
      }
    }
    nodeB.close();
    nodeB = NodeStore.open(DataDirectory.openOrCreate(dirB, 2), resources);
    assertTrue(nodeB.stagedInstall(0).isEmpty(), "a finished install leaves no stage behind");
  }

  @Test
  void aResumedInstallThatGetsAnAlteredChunkIsRefusedAndTheShardIsLeftEmpty() {
    try (RocksShardStore leader = nodeA.openShard(0, grid)) {
      Random random = new Random(12);
      for (int round = 0; round < 60; round++) {
        leader.apply(leader.prepare(randomRound(leader, random, round), 5, leader.position().seq() + 1));
      }
      List<SnapshotChunk> chunks = snapshotChunks(leader);
      ShardInstall install = nodeB.beginInstall(0);
      install.accept(chunks.get(0));
      install.accept(chunks.get(1));
      install.stage("install-8", 5, 2);
      nodeB.close();
      nodeB = NodeStore.open(DataDirectory.openOrCreate(dirB, 2), resources);
      ShardInstall resumed = nodeB.resumeInstall(0);
      for (SnapshotChunk c : chunks.subList(2, chunks.size())) {
        if (c instanceof SnapshotChunk.Data d) {
          c = flipOneBit(d);
        }
        resumed.accept(c);
      }
      StorageException refused = assertThrows(StorageException.class, resumed::finish);
      assertTrue(refused.getMessage().contains("checksum"), refused.getMessage());
      assertTrue(nodeB.stagedInstall(0).isEmpty());
    }
    try (RocksShardStore shard = nodeB.openShard(0, grid)) {
      assertEquals(LogPosition.EMPTY, shard.position());
      assertEquals(List.of(), shard.bucketStarts());
    }
  }

  @Test
  void anInstallMissingChunksIsRefusedAndLeavesTheShardEmpty() {
    try (RocksShardStore leader = nodeA.openShard(0, grid)) {
      leader.apply(leader.prepare(randomRound(leader, new Random(3), 0), 1, 1));
      ShardInstall install = nodeB.beginInstall(0);
      try (ShardSnapshot snapshot = leader.openSnapshot()) {
        install.accept(snapshot.next()); // the header
        snapshot.next(); // a data chunk lost on the way
        install.accept(snapshot.next()); // the end
      }
      assertThrows(StorageException.class, install::finish);
    }
    try (RocksShardStore shard = nodeB.openShard(0, grid)) {
      assertEquals(LogPosition.EMPTY, shard.position());
    }
  }

  @Test
  void anInstallWithAnAlteredChunkIsRefusedAndLeavesTheShardEmpty() {
    try (RocksShardStore leader = nodeA.openShard(0, grid)) {
      leader.apply(leader.prepare(randomRound(leader, new Random(4), 0), 1, 1));
      ShardInstall install = nodeB.beginInstall(0);
      try (ShardSnapshot snapshot = leader.openSnapshot()) {
        for (SnapshotChunk c = snapshot.next(); c != null; c = snapshot.next()) {
          if (c instanceof SnapshotChunk.Data d) {
            c = flipOneBit(d); // the key count still matches
          }
          install.accept(c);
        }
      }
      StorageException refused = assertThrows(StorageException.class, install::finish);
      assertTrue(refused.getMessage().contains("checksum"), refused.getMessage());
    }
    try (RocksShardStore shard = nodeB.openShard(0, grid)) {
      assertEquals(LogPosition.EMPTY, shard.position());
    }
  }

  /** A round of puts, rewrites and deletes over a few ids in two buckets. */
  /** Every chunk of a snapshot of {@code store}, each through the codec as on the wire. */
  private static List<SnapshotChunk> snapshotChunks(RocksShardStore store) {
    List<SnapshotChunk> chunks = new ArrayList<>();
    try (ShardSnapshot snapshot = store.openSnapshot()) {
      for (SnapshotChunk c = snapshot.next(); c != null; c = snapshot.next()) {
        chunks.add(SnapshotChunkCodec.decode(SnapshotChunkCodec.encode(c)));
      }
    }
    return chunks;
  }

  /** The chunk with one bit of its first value flipped, as a broken link would. */
  private static SnapshotChunk.Data flipOneBit(SnapshotChunk.Data d) {
    byte[] value = d.values().get(0).clone();
    value[value.length - 1] ^= 1;
    List<byte[]> values = new ArrayList<>(d.values());
    values.set(0, value);
    return new SnapshotChunk.Data(d.bucketStart(), d.keys(), values);
  }

  private static ShardWrite randomRound(RocksShardStore store, Random random, int round) {
    ShardWrite write = new ShardWrite();
    long bucket = random.nextBoolean() ? T0 : T0 + HOUR;
    List<byte[]> digests = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      digests.add(ShardHash.digest("ns" + (i % 3), "id-" + random.nextInt(40)));
    }
    Holding[][] held = store.lookup(digests, Long.MIN_VALUE);
    java.util.Set<java.nio.ByteBuffer> seen = new java.util.HashSet<>();
    for (int i = 0; i < digests.size(); i++) {
      byte[] d = digests.get(i);
      if (!seen.add(java.nio.ByteBuffer.wrap(d))) {
        continue;
      }
      boolean inBucket = false;
      for (Holding h : held[i]) {
        inBucket |= h.bucketStart() == bucket;
      }
      String ns = "ns" + (i % 3);
      if (inBucket && random.nextInt(4) == 0) {
        write.delete(d, ns, bucket);
      } else {
        write.put(d, ns, bucket, StoredRecord.committed(bucket + round, "t" + round,
            StoredRecord.NONE), !inBucket);
      }
    }
    return write;
  }

  /** Every key and value of every bucket, as strings, bucket by bucket. */
  private static Map<Long, Map<String, String>> contents(RocksShardStore store) {
    Map<Long, Map<String, String>> all = new TreeMap<>();
    for (long bucket : store.bucketStarts()) {
      Map<String, String> kv = new TreeMap<>();
      ColumnFamilyHandle cf = store.rawBucketForMeasurement(bucket);
      try (RocksIterator it = store.rawDbForMeasurement().newIterator(cf)) {
        for (it.seekToFirst(); it.isValid(); it.next()) {
          kv.put(java.util.HexFormat.of().formatHex(it.key()),
              java.util.HexFormat.of().formatHex(it.value()));
        }
      }
      all.put(bucket, kv);
    }
    return all;
  }
}
