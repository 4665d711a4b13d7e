package dev.dedupe.microbench;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.dedupe.v1.CheckAndInsertRequest;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Parsing a CheckAndInsertRequest of 1000 UUID ids from its wire bytes, as the server's
 * request guard does, and reading every id (protobuf decodes a string field's UTF-8 lazily, on
 * first access, so a parse alone would understate the work).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class DecodeBench {

  private byte[] wire;

  @Setup
  public void setUp() {
    SplittableRandom random = new SplittableRandom(1);
    CheckAndInsertRequest.Builder request = CheckAndInsertRequest.newBuilder().setNamespace("bench");
    for (int i = 0; i < 1000; i++) {
      request.addMessageIds(new UUID(random.nextLong(), random.nextLong()).toString());
    }
    wire = request.build().toByteArray();
  }

  /** Per request of 1000 ids. */
  @Benchmark
  public int parseAndReadIds() throws InvalidProtocolBufferException {
    CheckAndInsertRequest request = CheckAndInsertRequest.parseFrom(wire);
    int length = 0;
    for (String id : request.getMessageIdsList()) {
      length += id.length();
    }
    return length;
  }
}
