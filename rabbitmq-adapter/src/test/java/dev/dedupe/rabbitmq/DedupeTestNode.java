package dev.dedupe.rabbitmq;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.config.ConfigLoader;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.Map;

/** A real dedupe node on loopback with test-sized memory (as the client's tests start one). */
final class DedupeTestNode implements AutoCloseable {

  private final DedupeNode node;

  private DedupeTestNode(DedupeNode node) {
    this.node = node;
  }

  static DedupeTestNode start(Path dataDir) {
    Map<String, String> s = new HashMap<>();
    s.put("grpc.host", "127.0.0.1");
    s.put("grpc.port", "0");
    s.put("ops.host", "127.0.0.1");
    s.put("ops.port", "0");
    s.put("storage.data-dir", dataDir.toString());
    s.put("storage.shards", "4");
    s.put("storage.block-cache.bytes", "8MiB");
    s.put("storage.write-buffer.bytes", "8MiB");
    s.put("storage.disk-budget.bytes", "1GiB");
    s.put("storage.maintenance.interval.seconds", "3600");
    return new DedupeTestNode(
        DedupeNode.start(ConfigLoader.load(null, s, Map.of()), InstantSource.system()));
  }

  String address() {
    return "127.0.0.1:" + node.grpcPort();
  }

  @Override
  public void close() {
    node.close();
  }
}
