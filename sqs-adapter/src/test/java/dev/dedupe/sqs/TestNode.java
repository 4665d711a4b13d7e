package dev.dedupe.sqs;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.config.ConfigLoader;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Map;
import java.util.function.BooleanSupplier;

/** A real dedupe node on loopback, test-sized (as the client's tests start one). */
final class TestNode implements AutoCloseable {

  /** How long a test waits for a condition: generous on a busy 2-core machine. */
  static final Duration WAIT = Duration.ofSeconds(120);

  private final DedupeNode node;

  private TestNode(DedupeNode node) {
    this.node = node;
  }

  static TestNode start(Path dataDir) {
    Map<String, String> s = Map.of(
        "grpc.host", "127.0.0.1", "grpc.port", "0", "ops.host", "127.0.0.1", "ops.port", "0",
        "storage.data-dir", dataDir.toString(), "storage.shards", "2",
        "storage.block-cache.bytes", "8MiB", "storage.write-buffer.bytes", "8MiB",
        "storage.disk-budget.bytes", "1GiB", "storage.maintenance.interval.seconds", "3600");
    return new TestNode(DedupeNode.start(ConfigLoader.load(null, s, Map.of()),
        InstantSource.system()));
  }

  String address() {
    return "127.0.0.1:" + node.grpcPort();
  }

  /** Polls until {@code condition} holds; fails naming {@code what} after {@link #WAIT}. */
  static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long until = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - until > 0) {
        throw new AssertionError("waited " + WAIT + " for " + what + "; it did not happen");
      }
      Thread.sleep(50);
    }
  }

  @Override
  public void close() {
    node.close();
  }
}
