package dev.dedupe.server.replication;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The node-to-node listener: serves {@code dedupe.replica.v1.ReplicaService} on its own port
 * ({@code cluster.replication-port}), apart from the public API, for three reasons: its
 * messages are bigger than the API's request limit (a batch of several shards' entries, a
 * snapshot chunk), node-to-node traffic can be firewalled and secured apart from callers, and
 * a test or an operator can cut replication between two nodes without cutting their callers.
 */
public final class ReplicationServer implements AutoCloseable {

  /**
   * A batch carries at most {@code PeerLink.MAX_BYTES_PER_SHARD} per shard; 64 MiB leaves room
   * for 64 shards' worth in one call, and for a snapshot chunk.
   */
  static final int MAX_MESSAGE_BYTES = 64 << 20;

  private final Server server;

  private ReplicationServer(Server server) {
    this.server = server;
  }

  /** Binds {@code host:port} (0 picks a free port) and serves {@code service} there. */
  public static ReplicationServer start(String host, int port, BindableService service) {
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress(host, port))
        .addService(service)
        // Handlers only hand work to shard writers and sync threads, so they run on the
        // transport's own threads: no hop through an executor per call, which on a busy node
        // costs more than the work (ReplicaEndpoint keeps anything slow off these threads).
        .directExecutor()
        .maxInboundMessageSize(MAX_MESSAGE_BYTES)
        .build();
    try {
      server.start();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot start the replication listener on " + host + ":" + port + ": " + e.getMessage(), e);
    }
    return new ReplicationServer(server);
  }

  public int port() {
    return server.getPort();
  }

  /**
   * Stops at once: a leader whose append or snapshot is cut off here sends it again, to this
   * node when it is back or to whoever follows then.
   */
  @Override
  public void close() throws InterruptedException {
    server.shutdownNow();
    server.awaitTermination(10, TimeUnit.SECONDS);
  }
}
