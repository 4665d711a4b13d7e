package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.cluster.EmbeddedZooKeeper;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that was down long enough for gRPC's reconnect backoff to grow, then came back on its
 * address, must get its shards' calls again as soon as the cluster names it, not when the
 * backoff happens to end.
 *
 * <p>While the node is down, a listener on its port stands in for it: it accepts each
 * connection attempt and resets it, and notes when, so the test sees gRPC's backoff grow
 * (attempts 1, 1.6, 2.6, 4.1, 6.6, 10.5 s apart, each within 20% jitter) and waits for that,
 * not for a time. Right after an attempt that came {@link #GROWN} or more after the one before,
 * the node restarts. By gRPC's backoff policy its own next attempt comes at least
 * 1.6 * 0.8 / 1.2 = 1.07 such gaps after the last one (its next wait is 1.6 times the last,
 * each jittered by up to 20%); without the fix the first call served came about one gap after
 * the last attempt. The test asks for one within half a gap (5 s or more): clearly shorter
 * than what gRPC does alone, and ample for a busy machine to restart a node, which takes well
 * under a second when idle (the fix serves within 0.2 s of the last attempt). It also checks
 * the mechanism: the channel's backoff was reset after the restart.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ReconnectTest {

  private static final int SHARDS = 6;
  private static final String NS = "reconnect";
  /** The gap between two reconnect attempts that shows the backoff has grown. */
  private static final Duration GROWN = Duration.ofSeconds(10);
  private static final Duration WAIT = Duration.ofMinutes(2);

  @TempDir Path dir;

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** A channel that counts the client's {@link #resetConnectBackoff} calls. */
  private static final class CountingChannel extends ManagedChannel {
    final ManagedChannel delegate;
    final AtomicInteger resets = new AtomicInteger();

    CountingChannel(ManagedChannel delegate) {
      this.delegate = delegate;
    }

    @Override
    public void resetConnectBackoff() {
      resets.incrementAndGet();
      delegate.resetConnectBackoff();
    }

    @Override
    public ConnectivityState getState(boolean requestConnection) {
      return delegate.getState(requestConnection);
    }

    @Override
    public void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
      delegate.notifyWhenStateChanged(source, callback);
    }

    @Override
    public void enterIdle() {
      delegate.enterIdle();
    }

    @Override
    public ManagedChannel shutdown() {
      delegate.shutdown();
      return this;
    }

    @Override
    public boolean isShutdown() {
      return delegate.isShutdown();
    }

    @Override
    public boolean isTerminated() {
      return delegate.isTerminated();
    }

    @Override
    public ManagedChannel shutdownNow() {
      delegate.shutdownNow();
      return this;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
      return delegate.awaitTermination(timeout, unit);
    }

    @Override
    public <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> method, CallOptions options) {
      return delegate.newCall(method, options);
    }

    @Override
    public String authority() {
      return delegate.authority();
    }
  }

  /** Stands in for a stopped node on its port: resets every connection, noting when it came. */
  private static final class Refuser implements AutoCloseable {
    final ServerSocket socket = new ServerSocket();
    final BlockingQueue<Long> attempts = new LinkedBlockingQueue<>();
    final Thread acceptor;

    Refuser(int port) throws IOException {
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
      acceptor = Thread.ofPlatform().daemon().name("refuser-" + port).start(() -> {
        while (true) {
          try (Socket s = socket.accept()) {
            attempts.add(System.nanoTime());
            s.setSoLinger(true, 0); // a reset, so no TIME_WAIT holds the port
          } catch (IOException closed) {
            return;
          }
        }
      });
    }

    /** Waits for two attempts at least {@code gap} apart; returns their times. */
    long[] awaitGap(Duration gap, Duration max) throws InterruptedException {
      long until = System.nanoTime() + max.toNanos();
      Long previous = null;
      while (true) {
        Long next = attempts.poll(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (next == null) {
          throw new AssertionError("no two reconnect attempts " + gap + " apart within " + max);
        }
        if (previous != null && next - previous >= gap.toNanos()) {
          return new long[] {previous, next};
        }
        previous = next;
      }
    }

    @Override
    public void close() throws Exception {
      socket.close();
      acceptor.join();
    }
  }

  private static List<String> idsOwnedBy(DedupeClient client, String owner, int n) {
    ShardRouter.Table table = client.routingTable();
    List<String> ids = new ArrayList<>();
    for (int i = 0; ids.size() < n; i++) {
      String id = "id-" + i;
      if (table.owners()[ShardHash.shardOf(NS, id, table.shardCount())].equals(owner)) {
        ids.add(id);
      }
    }
    return ids;
  }

  @Test
  void aNodeThatComesBackGetsItsCallsWithoutWaitingOutTheReconnectBackoff() throws Exception {
    int port = freePort();
    DedupeNode[] nodes = new DedupeNode[3];
    Map<String, CountingChannel> channels = new ConcurrentHashMap<>();
    try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), freePort())) {
      try {
        nodes[0] = TestNode.clusterMember(dir, zk.connectString(), NS, 0, SHARDS, 3);
        nodes[1] = TestNode.clusterMember(dir, zk.connectString(), NS, 1, SHARDS, 3);
        nodes[2] = TestNode.clusterMember(dir, zk.connectString(), NS, 2, SHARDS, 3, port);
        TestNode.awaitReady(nodes);
        String back = nodes[2].advertisedAddress();

        try (DedupeClient client = DedupeClient.builder()
            .targets(List.of(nodes[0].advertisedAddress(), nodes[1].advertisedAddress()))
            .maxAttempts(3)
            .backoff(Duration.ofMillis(20), Duration.ofMillis(100))
            .linger(Duration.ZERO)
            .channelFactory(address -> channels.computeIfAbsent(address, a -> new CountingChannel(
                Grpc.newChannelBuilder(a, InsecureChannelCredentials.create()).build())))
            .build()) {
          client.checkAndInsert(NS, "warm-up");
          List<String> onBack = idsOwnedBy(client, back, 3);
          String healthy = idsOwnedBy(client, nodes[0].advertisedAddress(), 1).get(0);
          assertTrue(client.checkAndInsert(NS, onBack.get(0)).isNew());
          CountingChannel toBack = channels.get(back);

          nodes[2].close();
          long[] attempts;
          try (Refuser refuser = new Refuser(port)) {
            TestNode.awaitCondition(WAIT, "the client's map dropping the stopped node " + back,
                () -> !Arrays.asList(client.routingTable().owners()).contains(back));
            DedupeException down = assertThrows(DedupeException.class,
                () -> client.checkAndInsert(NS, onBack.get(1)));
            assertEquals(Status.Code.UNAVAILABLE, down.code());
            assertTrue(client.checkAndInsert(NS, healthy + "-while-down").isNew());

            // Into gRPC's reconnect cycle, as a call made while the map still named the crashed
            // node would put it; then wait until the backoff has grown.
            toBack.getState(true);
            attempts = refuser.awaitGap(GROWN, WAIT);
          }
          long lastAttempt = attempts[1];
          long gap = attempts[1] - attempts[0];
          long bound = gap / 2;
          int resetsBefore = toBack.resets.get();
          nodes[2] = TestNode.clusterMember(dir, zk.connectString(), NS, 2, SHARDS, 3, port);

          Decision served = null;
          DedupeException last = null;
          while (served == null && System.nanoTime() - lastAttempt < bound) {
            try {
              served = client.checkAndInsert(NS, onBack.get(2));
            } catch (DedupeException notYet) {
              last = notYet;
            }
          }
          long tookMillis = (System.nanoTime() - lastAttempt) / 1_000_000;
          System.out.println("ReconnectTest: last two attempts " + gap / 1_000_000 + " ms apart;"
              + " served " + tookMillis + " ms after the last one");
          assertTrue(served != null && tookMillis < bound / 1_000_000,
              "the restarted node's shard was not served within " + bound / 1_000_000
                  + " ms of the last reconnect attempt (took " + tookMillis + " ms; gRPC's own"
                  + " next attempt comes no sooner than " + gap * 16 / 15 / 1_000_000
                  + " ms); last failure: " + last);
          assertTrue(served.isNew(), served.toString());
          assertTrue(toBack.resets.get() > resetsBefore,
              "the map naming " + back + " again should have reset its channel's backoff");
        }
      } finally {
        // Before ZooKeeper goes: a node closing without it waits for it.
        for (DedupeNode n : nodes) {
          if (n != null) {
            n.close();
          }
        }
      }
    }
  }
}
