package dev.dedupe.server.rpc;

import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The node's channels to its peers, one per peer address, made on first use and kept until
 * {@link #close} (the node closes it after its API has stopped, so no call still needs one).
 * Replication, cluster-wide stats and one-hop forwarding share them, so a node holds one connection per
 * peer, whatever asks.
 *
 * <p>A kept channel saves a TCP and HTTP/2 handshake per peer per call. Addresses come from
 * the shard map, so there are as many channels as addresses the node has seen owners at; one
 * whose node went away costs an idle connection's reconnect timer.
 */
public final class PeerChannels implements AutoCloseable {

  private final Function<String, ManagedChannel> channelFactory;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /** @param channelFactory makes the channel to a peer's host:port */
  public PeerChannels(Function<String, ManagedChannel> channelFactory) {
    this.channelFactory = channelFactory;
  }

  /**
   * The channel to {@code address}, or null once closed. A channel in TRANSIENT_FAILURE has
   * its reconnect backoff reset: a peer that came back is reached now, not after the backoff
   * (up to two minutes) has run out.
   */
  public ManagedChannel channel(String address) {
    if (closed) {
      return null;
    }
    ManagedChannel channel = channels.computeIfAbsent(address, channelFactory);
    if (closed) {
      // close() ran while the channel was made, and may have missed it.
      channel.shutdownNow();
      return null;
    }
    if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
      channel.resetConnectBackoff();
    }
    return channel;
  }

  /**
   * A peer call's failure in one line: its code, its description, and its cause's message,
   * since "io exception" alone hides the useful part, such as "Connection refused".
   */
  static String describe(Status status) {
    StringBuilder text = new StringBuilder(status.getCode().name());
    if (status.getDescription() != null) {
      text.append(": ").append(status.getDescription());
    }
    if (status.getCause() != null && status.getCause().getMessage() != null) {
      text.append(" (").append(status.getCause().getMessage()).append(')');
    }
    return text.toString();
  }

  /** Closes every peer channel; from now on {@link #channel} gives none. */
  @Override
  public void close() {
    closed = true;
    channels.values().forEach(ManagedChannel::shutdownNow);
    channels.clear();
  }
}
