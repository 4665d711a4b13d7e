package dev.dedupe.server.cluster;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooKeeper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renews a {@link ServingFence}'s lease: every sixth of the session timeout it sends ZooKeeper
 * a {@code sync} on the current session and, when ZooKeeper answers, tells the fence when the
 * sync was sent. A sync that fails or is never answered renews nothing, so the lease runs out
 * by the node's own clock however long the ZooKeeper client takes to notice.
 *
 * <p>A sync rather than a read because a sync goes through the ZooKeeper leader, which is the
 * server that expires sessions: a follower cut off from the leader still answers reads for a
 * while, during which the leader may expire this session.
 *
 * <p>Six heartbeats per session timeout give four chances to renew before a lease of two
 * thirds of the timeout ends: the lease lapses only when ZooKeeper has been silent for about as
 * long as makes its own client declare the connection lost.
 *
 * <p>Uses the raw asynchronous ZooKeeper call, not Curator's retrying one: a retry would hide
 * exactly the silence the lease must see.
 */
final class SessionHeartbeat implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(SessionHeartbeat.class);

  private final CuratorFramework zk;
  private final ServingFence fence;
  private final long configuredTimeoutMillis;
  private final LongSupplier nanoClock;
  private final String path;
  private final ScheduledExecutorService timer;

  SessionHeartbeat(CuratorFramework zk, ServingFence fence, long configuredTimeoutMillis,
      LongSupplier nanoClock, String path, String nodeId) {
    this.zk = zk;
    this.fence = fence;
    this.configuredTimeoutMillis = configuredTimeoutMillis;
    this.nanoClock = nanoClock;
    this.path = path;
    this.timer = Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name("zk-heartbeat-" + nodeId).daemon(true).factory());
  }

  void start() {
    long every = Math.max(50, configuredTimeoutMillis / 6);
    timer.scheduleAtFixedRate(this::beat, 0, every, TimeUnit.MILLISECONDS);
  }

  /** Sends one heartbeat now; the lease is renewed when (and if) ZooKeeper answers. */
  void beat() {
    try {
      ZooKeeper handle = zk.getZookeeperClient().getZooKeeper();
      long sent = nanoClock.getAsLong();
      handle.sync(path, (rc, p, ctx) -> {
        if (rc == KeeperException.Code.OK.intValue()) {
          fence.heartbeatAnswered(sent, sessionTimeoutMillis(handle));
        }
      }, null);
    } catch (Exception e) {
      // No handle (closing, or between sessions): no renewal, which is the point.
      log.debug("heartbeat not sent: {}", e.toString());
    }
  }

  /**
   * The session timeout ZooKeeper granted, which may be shorter than the one asked for (the
   * server clamps it to between 2 and 20 ticks); the configured one until a session exists.
   */
  private long sessionTimeoutMillis(ZooKeeper handle) {
    int negotiated = handle.getSessionTimeout();
    return negotiated > 0 ? Math.min(negotiated, configuredTimeoutMillis) : configuredTimeoutMillis;
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
