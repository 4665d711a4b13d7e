package dev.dedupe.server.testing;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceBlockingStub;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A node with real storage whose API is served in-process, and a channel to it. The same
 * server classes as over Netty; only the transport differs.
 */
public final class InProcessNode implements AutoCloseable {

  public final DedupeNode node;
  public final ManagedChannel channel;

  private InProcessNode(DedupeNode node, ManagedChannel channel) {
    this.node = node;
    this.channel = channel;
  }

  public static InProcessNode start(Path dataDir, InstantSource clock, Map<String, String> overrides) {
    String name = InProcessServerBuilder.generateName();
    DedupeNode node = DedupeNode.start(TestConfigs.forDataDir(dataDir, overrides), clock,
        InProcessServerBuilder.forName(name));
    return new InProcessNode(node, InProcessChannelBuilder.forName(name).build());
  }

  /** A blocking stub with a deadline, so that a hung call fails the test instead of hanging it. */
  public DedupeServiceBlockingStub stub() {
    return DedupeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    channel.shutdownNow();
    node.close();
  }
}
