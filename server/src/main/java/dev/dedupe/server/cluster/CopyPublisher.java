package dev.dedupe.server.cluster;

import dev.dedupe.server.copy.CopyProgress;
import dev.dedupe.server.copy.CopyProgressJson;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes, once a second, the copies this node makes as a leader ({@code copies/<NNNN>-<node>},
 * ephemeral, so a leader that dies takes its figures with it), and deletes those that ended.
 * At most one write per copy a second, whatever the number of chunks: ZooKeeper is for
 * coordination, and progress is a courtesy to the admin. On its own thread, so a slow
 * ZooKeeper delays progress, never a re-read of the shard states.
 */
final class CopyPublisher implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(CopyPublisher.class);
  static final long PERIOD_MILLIS = 1_000;

  private final CuratorFramework zk;
  private final ClusterPaths paths;
  private final LongFunction<List<CopyProgress>> copies;
  private final java.time.InstantSource clock;
  private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("copy-progress").daemon(true).factory());
  /** The znodes this node wrote and has not deleted; publisher thread only. */
  private final Set<String> written = new HashSet<>();

  CopyPublisher(CuratorFramework zk, ClusterPaths paths,
      LongFunction<List<CopyProgress>> copies, java.time.InstantSource clock) {
    this.zk = zk;
    this.paths = paths;
    this.copies = copies;
    this.clock = clock;
  }

  void start() {
    thread.scheduleWithFixedDelay(this::publish, PERIOD_MILLIS, PERIOD_MILLIS,
        TimeUnit.MILLISECONDS);
  }

  private void publish() {
    if (!zk.getZookeeperClient().isConnected()) {
      return;
    }
    try {
      Set<String> now = new HashSet<>();
      for (CopyProgress p : copies.apply(clock.millis())) {
        String path = paths.copy(p.shard(), p.follower());
        now.add(path);
        byte[] data = CopyProgressJson.toJson(p);
        try {
          zk.setData().forPath(path, data);
        } catch (KeeperException.NoNodeException none) {
          zk.create().creatingParentContainersIfNeeded().withMode(CreateMode.EPHEMERAL)
              .forPath(path, data);
        }
        written.add(path);
      }
      for (String old : Set.copyOf(written)) {
        if (!now.contains(old)) {
          try {
            zk.delete().forPath(old);
          } catch (KeeperException.NoNodeException gone) {
            // its session ended, or another leader's write replaced and removed it
          }
          written.remove(old);
        }
      }
    } catch (Exception e) {
      log.debug("cannot publish copy progress now: {}", e.toString());
    }
  }

  @Override
  public void close() {
    thread.shutdownNow();
  }
}
