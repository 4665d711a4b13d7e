package dev.dedupe.server.cluster;

import dev.dedupe.server.copy.CopyThrottle;
import dev.dedupe.server.copy.Throttle;
import dev.dedupe.server.copy.ThrottleJson;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's copy throttle in ZooKeeper ({@code throttle}): reads and writes of the znode,
 * and, on every node, a watch that applies what it holds to the node's {@link CopyThrottle}
 * (no znode, no throttle). A znode that does not parse is logged and leaves the rate as it was,
 * rather than lifting a throttle an admin set on a guess.
 */
final class ZkThrottle implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ZkThrottle.class);

  private final CuratorFramework zk;
  private final ClusterPaths paths;
  private final CopyThrottle applied;
  private final String nodeId;
  private CuratorCache watch;

  ZkThrottle(CuratorFramework zk, ClusterPaths paths, CopyThrottle applied, String nodeId) {
    this.zk = zk;
    this.paths = paths;
    this.applied = applied;
    this.nodeId = nodeId;
  }

  /** Starts watching the znode; the rate applies from the first read. */
  void start() {
    watch = CuratorCache.build(zk, paths.throttle(), CuratorCache.Options.SINGLE_NODE_CACHE);
    watch.listenable().addListener((type, before, after) -> apply(
        after == null ? null : after.getData()));
    watch.start();
  }

  private void apply(byte[] data) {
    long rate;
    if (data == null) {
      rate = 0;
    } else {
      try {
        rate = ThrottleJson.fromJson(data).bytesPerSecond();
      } catch (IllegalArgumentException e) {
        log.warn("node {}: {}; keeping the rate in force", nodeId, e.getMessage());
        return;
      }
    }
    if (rate != applied.rate()) {
      log.info("node {}: copy throttle {}", nodeId, rate == 0 ? "cleared"
          : "now " + dev.dedupe.server.copy.ByteRate.format(rate));
      applied.setRate(rate);
    }
  }

  /** The throttle set now, with its znode version, or empty. */
  static Optional<Versioned> read(CuratorFramework zk, ClusterPaths paths) throws Exception {
    org.apache.zookeeper.data.Stat stat = new org.apache.zookeeper.data.Stat();
    try {
      byte[] data = zk.getData().storingStatIn(stat).forPath(paths.throttle());
      return Optional.of(new Versioned(ThrottleJson.fromJson(data), stat.getVersion()));
    } catch (KeeperException.NoNodeException none) {
      return Optional.empty();
    }
  }

  /** A throttle and the znode version it was read at. */
  record Versioned(Throttle throttle, int version) {}

  /** Sets the throttle (creating the znode or replacing what it holds). */
  static void write(CuratorFramework zk, ClusterPaths paths, Throttle t) throws Exception {
    zk.create().orSetData().creatingParentsIfNeeded().forPath(paths.throttle(),
        ThrottleJson.toJson(t));
  }

  /** Clears the throttle; returns whether one was set. */
  static boolean delete(CuratorFramework zk, ClusterPaths paths) throws Exception {
    try {
      zk.delete().forPath(paths.throttle());
      return true;
    } catch (KeeperException.NoNodeException none) {
      return false;
    }
  }

  @Override
  public void close() {
    if (watch != null) {
      watch.close();
    }
  }
}
