package dev.dedupe.client;

import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceStub;
import io.grpc.Channel;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * One channel per address, made on first use and kept until the client closes. A gRPC channel
 * multiplexes any number of concurrent calls, so one per node is enough.
 *
 * <p>Channels to addresses that leave the shard map stay open until {@link #shutdownNow}; with
 * a handful of nodes that is a few idle connections. (Cluster membership churn may want them
 * closed on map refresh; not needed while one node serves every shard.)
 *
 * <p>Threads: any.
 */
final class ChannelPool {

  private record Entry(ManagedChannel managed, Channel intercepted) {}

  private final Function<String, ManagedChannel> factory;
  private final List<ClientInterceptor> interceptors;
  private final Duration deadline;
  private final Executor executor;
  private final Map<String, Entry> channels = new ConcurrentHashMap<>();
  private volatile boolean closed;

  ChannelPool(Function<String, ManagedChannel> factory, List<ClientInterceptor> interceptors,
      Duration deadline, Executor executor) {
    this.factory = factory;
    this.interceptors = interceptors;
    this.deadline = deadline;
    this.executor = executor;
  }

  /**
   * A stub for one call to {@code address}: the request deadline counts from now, and callbacks
   * run on the configured executor (gRPC's own if none).
   *
   * @throws IllegalStateException if the pool is shut down
   */
  DedupeServiceStub stub(String address) {
    DedupeServiceStub stub = DedupeServiceGrpc.newStub(channel(address))
        .withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
    return executor == null ? stub : stub.withExecutor(executor);
  }

  /**
   * A stub for a long-lived stream to {@code address}: no deadline (the caller cancels it), and
   * callbacks on the configured executor.
   *
   * @throws IllegalStateException if the pool is shut down
   */
  DedupeServiceStub streamStub(String address) {
    DedupeServiceStub stub = DedupeServiceGrpc.newStub(channel(address));
    return executor == null ? stub : stub.withExecutor(executor);
  }

  private Channel channel(String address) {
    if (closed) {
      throw new IllegalStateException("the client is closed; no channel to " + address);
    }
    Entry entry = channels.computeIfAbsent(address, a -> {
      ManagedChannel managed = factory.apply(a);
      if (managed == null) {
        throw new IllegalStateException("channelFactory returned null for " + a);
      }
      return new Entry(managed, ClientInterceptors.intercept(managed, interceptors));
    });
    if (closed) {
      // Lost a race with shutdownNow: this channel may have been made after it ran.
      entry.managed().shutdownNow();
      throw new IllegalStateException("the client is closed; no channel to " + address);
    }
    return entry.intercepted();
  }

  /** Cancels calls in flight and closes every channel, waiting up to {@code wait} in all. */
  void shutdownNow(Duration wait) {
    closed = true;
    channels.values().forEach(e -> e.managed().shutdownNow());
    long until = System.nanoTime() + wait.toNanos();
    for (Entry e : channels.values()) {
      try {
        e.managed().awaitTermination(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
