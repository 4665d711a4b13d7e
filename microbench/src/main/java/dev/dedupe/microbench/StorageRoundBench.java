package dev.dedupe.microbench;

import dev.dedupe.server.config.Durability;
import dev.dedupe.server.config.StorageConfig;
import dev.dedupe.server.decision.IdResult;
import dev.dedupe.server.shard.Caller;
import dev.dedupe.server.shard.ServingCheck;
import dev.dedupe.server.shard.ShardWriter;
import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.DataDirectory;
import dev.dedupe.server.storage.NodeStore;
import dev.dedupe.server.storage.RocksShardStore;
import dev.dedupe.server.storage.ShardWrite;
import dev.dedupe.server.storage.StorageResources;
import dev.dedupe.server.storage.StoredRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One shard's storage work for 1000 new ids: the batched lookup (one multiGet) and the write
 * batch that records them (with the WAL synced, or not), straight on a {@link RocksShardStore};
 * and the same through a {@link ShardWriter}, which adds its queue, its thread hand-off and the
 * record rules. The store starts with {@code storedKeys} keys in its one bucket, so that the
 * memtable and the table files are not empty.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
public class StorageRoundBench {

  private static final int IDS = 1000;
  private static final long HOUR = Duration.ofHours(1).toMillis();

  @Param({"fsync", "risk-power-loss"})
  public String durability;

  @Param({"1000000"})
  public int storedKeys;

  private Path dir;
  private StorageResources resources;
  private NodeStore nodeStore;
  private RocksShardStore store;
  private ShardWriter writer;
  private RocksShardStore writerStore;
  private final SplittableRandom random = new SplittableRandom(7);
  private long bucket;

  @Setup(Level.Trial)
  public void open() throws IOException {
    dir = Files.createTempDirectory("dedupe-jmh");
    StorageConfig config = new StorageConfig(dir, 2, Durability.parse(durability),
        Duration.ofHours(6), 0, 256L << 20, 256L << 20, Duration.ofSeconds(10));
    resources = new StorageResources(config);
    BucketGrid grid = new BucketGrid(Duration.ofHours(6));
    bucket = grid.startOf(System.currentTimeMillis());
    nodeStore = NodeStore.open(DataDirectory.openOrCreate(dir, 2), resources);
    store = nodeStore.openShard(0, grid);
    store.ensureBucket(bucket);
    writerStore = nodeStore.openShard(1, grid);
    writerStore.ensureBucket(bucket);
    for (int done = 0; done < storedKeys; done += 10_000) {
      ShardWrite a = new ShardWrite();
      ShardWrite b = new ShardWrite();
      for (int i = 0; i < 10_000; i++) {
        a.put(digest(), "bench", bucket, StoredRecord.committed(bucket + 1, "", new byte[0]), true);
        b.put(digest(), "bench", bucket, StoredRecord.committed(bucket + 1, "", new byte[0]), true);
      }
      store.write(a);
      writerStore.write(b);
    }
    writer = new ShardWriter(writerStore, grid, InstantSource.system(), 4096, ServingCheck.ALWAYS);
    writer.start();
  }

  @TearDown(Level.Trial)
  public void close() throws IOException {
    writer.close();
    store.close();
    nodeStore.close();
    resources.close();
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  /** Per round of 1000 ids on the store: lookup in the window, then one write batch. */
  @Benchmark
  public int storeLookupAndWrite() {
    List<byte[]> digests = digests();
    long now = System.currentTimeMillis();
    int held = 0;
    for (var h : store.lookup(digests, now - 24 * HOUR)) {
      held += h.length;
    }
    ShardWrite write = new ShardWrite();
    for (byte[] d : digests) {
      write.put(d, "bench", bucket, StoredRecord.committed(now, "", new byte[0]), true);
    }
    store.write(write);
    return held;
  }

  /** The lookup alone: 1000 absent ids, one multiGet over the one bucket. */
  @Benchmark
  public int storeLookupOnly() {
    int held = 0;
    for (var h : store.lookup(digests(), System.currentTimeMillis() - 24 * HOUR)) {
      held += h.length;
    }
    return held;
  }

  /** The write alone: one batch recording 1000 new ids (memtable inserts, WAL append, sync). */
  @Benchmark
  public void storeWriteOnly() {
    long now = System.currentTimeMillis();
    ShardWrite write = new ShardWrite();
    for (byte[] d : digests()) {
      write.put(d, "bench", bucket, StoredRecord.committed(now, "", new byte[0]), true);
    }
    store.write(write);
  }

  /** Per round of 1000 ids through the shard's writer thread (one CheckAndInsert part). */
  @Benchmark
  public IdResult[] writerRound() {
    return writer.checkAndInsert(
        "bench", 24 * HOUR, digests(), "", 0, List.of(), Caller.WAITING).join();
  }

  private List<byte[]> digests() {
    List<byte[]> digests = new ArrayList<>(IDS);
    for (int i = 0; i < IDS; i++) {
      digests.add(digest());
    }
    return digests;
  }

  /** Ids' digests are uniformly random 16 bytes; random bytes stand in for hashing here. */
  private byte[] digest() {
    byte[] d = new byte[16];
    long a = random.nextLong();
    long b = random.nextLong();
    for (int i = 0; i < 8; i++) {
      d[i] = (byte) (a >>> (8 * i));
      d[8 + i] = (byte) (b >>> (8 * i));
    }
    return d;
  }
}
