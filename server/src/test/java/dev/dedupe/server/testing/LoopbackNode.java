package dev.dedupe.server.testing;

import dev.dedupe.server.DedupeNode;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Map;

/**
 * A node with real storage serving its API over Netty on loopback, at a free port: what the
 * tests of the client and of the queue adapters talk to, as a user's process would.
 */
public final class LoopbackNode implements AutoCloseable {

  private final DedupeNode node;

  private LoopbackNode(DedupeNode node) {
    this.node = node;
  }

  /** A standalone node on {@code dataDir} with {@link TestConfigs}' settings. */
  public static LoopbackNode start(Path dataDir) {
    return start(dataDir, Map.of());
  }

  /** As {@link #start(Path)}, with {@code overrides} (config key to value). */
  public static LoopbackNode start(Path dataDir, Map<String, String> overrides) {
    return new LoopbackNode(DedupeNode.start(TestConfigs.forDataDir(dataDir, overrides),
        InstantSource.system()));
  }

  /** {@code 127.0.0.1:port}, for {@code DedupeClient.builder().target(...)}. */
  public String address() {
    return "127.0.0.1:" + node.grpcPort();
  }

  public DedupeNode node() {
    return node;
  }

  @Override
  public void close() {
    node.close();
  }
}
