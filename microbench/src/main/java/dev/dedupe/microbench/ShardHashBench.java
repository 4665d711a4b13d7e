package dev.dedupe.microbench;

import dev.dedupe.contract.ShardHash;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The shard hash of one UUID message id (MurmurHash3 x64 128 over namespace, 0x00, id) and the
 * shard it picks: what the server does once per id before anything else.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ShardHashBench {

  private static final int IDS = 1000;
  private final String[] ids = new String[IDS];
  private final byte[] namespace = "bench".getBytes(StandardCharsets.UTF_8);

  @Setup
  public void setUp() {
    SplittableRandom random = new SplittableRandom(1);
    for (int i = 0; i < IDS; i++) {
      ids[i] = new UUID(random.nextLong(), random.nextLong()).toString();
    }
  }

  /** Per id: the 16-byte digest and its shard of 16. */
  @Benchmark
  @OperationsPerInvocation(IDS)
  public void digestAndShard(Blackhole bh) {
    for (String id : ids) {
      byte[] digest = ShardHash.digest(namespace, id);
      bh.consume(ShardHash.shardOf(digest, 16));
    }
  }
}
