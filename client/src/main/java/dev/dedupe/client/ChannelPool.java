package dev.dedupe.client;

import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceStub;
import io.grpc.Channel;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * One channel per address, made on first use and kept until the client closes. A gRPC channel
 * multiplexes any number of concurrent calls, so one per node is enough.
 *
 * <p>Channels to addresses that leave the shard map stay open until {@link #shutdownNow}; with
 * a handful of nodes that is a few idle connections. (Cluster membership churn may want them
 * closed on map refresh; not needed while one node serves every shard.)
 *
 * <p>A channel whose node went away sits in TRANSIENT_FAILURE between reconnect attempts, and
 * gRPC's reconnect backoff grows (to 2 minutes) for as long as the node is down: calls on it
 * fail at once, even after the node is back, until the next attempt. gRPC resets that backoff
 * only on a successful connection or when asked, so the client asks ({@link #wake}) whenever
 * the cluster says the node serves: a map or an owner hint names it.
 *
 * <p>Threads: any.
 */
final class ChannelPool {

  /**
   * The least time between two wakes of one channel when the cluster only confirms what the
   * client already knew (the map names the node as before). A crashed node stays in the map
   * until its ZooKeeper session expires, and every failed call fetches the map again; without
   * this floor, each fetch would dial the dead node. One attempt a second is what gRPC itself
   * does in the first second of an outage.
   */
  static final long REWAKE_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** {@code lastWake}: when the channel was last woken ({@link System#nanoTime()}). */
  private record Entry(ManagedChannel managed, Channel intercepted, AtomicLong lastWake) {}

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
      return new Entry(managed, ClientInterceptors.intercept(managed, interceptors),
          new AtomicLong(System.nanoTime() - REWAKE_NANOS));
    });
    if (closed) {
      // Lost a race with shutdownNow: this channel may have been made after it ran.
      entry.managed().shutdownNow();
      throw new IllegalStateException("the client is closed; no channel to " + address);
    }
    return entry.intercepted();
  }

  /**
   * The cluster says {@code address} serves (a map or an owner hint names it): if its channel
   * is waiting out a reconnect backoff (TRANSIENT_FAILURE), connect now instead
   * ({@link ManagedChannel#resetConnectBackoff}, which also restarts the backoff from its
   * first step). A node {@code newlyNamed} (the cluster did not name it before: it came back)
   * is always woken; one named as before at most once per {@link #REWAKE_NANOS}. Never
   * blocks; no channel is made.
   *
   * @return whether the channel was woken
   */
  boolean wake(String address, boolean newlyNamed) {
    Entry entry = channels.get(address);
    if (entry == null || closed) {
      return false;
    }
    try {
      if (entry.managed().getState(false) != ConnectivityState.TRANSIENT_FAILURE) {
        return false; // connected, connecting, or idle (the next call connects): nothing to wait out
      }
    } catch (UnsupportedOperationException unknown) {
      // A channelFactory's channel that does not report its state: wake it, within the floor.
    }
    long now = System.nanoTime();
    long last = entry.lastWake().get();
    if (!newlyNamed && now - last < REWAKE_NANOS) {
      return false;
    }
    if (!entry.lastWake().compareAndSet(last, now)) {
      return false; // another thread woke it just now
    }
    entry.managed().resetConnectBackoff();
    return true;
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
