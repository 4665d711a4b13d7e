package dev.dedupe.server.cluster;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's controller when elected: the only writer of the shard assignment.
 *
 * <p>Election is Curator's {@link LeaderLatch}, which gives up leadership on SUSPENDED. That
 * alone cannot stop a write that a deposed controller already sent, so every write is also
 * fenced: on election the controller bumps the version of the controller-epoch znode, and
 * each assignment write is a transaction that checks that version. A controller that was
 * deposed, even one that does not know it yet, gets {@link NotControllerException} instead of
 * overwriting its successor's assignment (Kafka's controller epoch, in ZooKeeper terms).
 *
 * <p>Shards never change owner here without their data: until replication exists, the
 * controller assigns shards once, when the cluster first forms ({@code initialNodes} nodes
 * have registered), and keeps that assignment; a node that is down leaves its shards
 * unavailable rather than handing them to an empty store.
 */
public final class Controller implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Controller.class);

  private final CuratorFramework zk;
  private final ClusterPaths paths;
  private final String nodeId;
  private final int shardCount;
  private final int initialNodes;
  private final LeaderLatch latch;
  private final ExecutorService events;
  /** The controller-epoch znode version this controller was elected at; -1 before election. */
  private final AtomicLong epoch = new AtomicLong(-1);

  public Controller(
      CuratorFramework zk, ClusterPaths paths, String nodeId, int shardCount, int initialNodes) {
    this.zk = zk;
    this.paths = paths;
    this.nodeId = nodeId;
    this.shardCount = shardCount;
    this.initialNodes = initialNodes;
    this.latch = new LeaderLatch(zk, paths.controllerLatch(), nodeId);
    this.events = Executors.newSingleThreadExecutor(
        Thread.ofPlatform().name("controller-" + nodeId).daemon(true).factory());
  }

  public void start() {
    latch.addListener(new LeaderLatchListener() {
      @Override
      public void isLeader() {
        events.execute(Controller.this::onElected);
      }

      @Override
      public void notLeader() {
        log.info("node {}: no longer the controller", nodeId);
      }
    }, events);
    try {
      latch.start();
    } catch (Exception e) {
      throw new ClusterException("node " + nodeId + ": cannot join the controller election", e);
    }
  }

  /** Whether this node holds the controller latch now. */
  public boolean isLeader() {
    return latch.hasLeadership();
  }

  /** The controller epoch this node was last elected at, or -1 if it never was. */
  public long epoch() {
    return epoch.get();
  }

  private void onElected() {
    try {
      long myEpoch = bumpEpoch();
      epoch.set(myEpoch);
      log.info("node {}: elected controller at epoch {}", nodeId, myEpoch);
      ClusterState.ensureConfig(zk, paths, shardCount);
      assignIfFirstFormed(myEpoch);
      recordStores();
    } catch (NotControllerException e) {
      log.info("node {}: {}", nodeId, e.getMessage());
    } catch (Exception e) {
      log.error("node {}: controller start failed; another node may take over", nodeId, e);
    }
  }

  private long bumpEpoch() throws Exception {
    try {
      zk.create().creatingParentsIfNeeded().forPath(paths.controllerEpoch(), new byte[0]);
    } catch (KeeperException.NodeExistsException exists) {
      // Set up by an earlier controller.
    }
    Stat stat = zk.setData().forPath(paths.controllerEpoch(), nodeId.getBytes());
    return stat.getVersion();
  }

  /** Waits for the first nodes, then writes the initial spread, unless an assignment exists. */
  private void assignIfFirstFormed(long myEpoch) throws Exception {
    while (latch.hasLeadership() && epoch.get() == myEpoch) {
      if (ClusterState.readAssignment(zk, paths).isPresent()) {
        return;
      }
      List<String> live = ClusterState.liveNodes(zk, paths);
      if (live.size() >= initialNodes) {
        ShardAssignment first = ShardAssignment.spread(shardCount, live);
        createFenced(first, myEpoch);
        log.info("node {}: cluster formed; {} shards spread over {}", nodeId, shardCount, live);
        return;
      }
      log.info("node {}: waiting for {} nodes before assigning shards ({} registered)",
          nodeId, initialNodes, live.size());
      TimeUnit.MILLISECONDS.sleep(200);
    }
  }

  /**
   * A node's registration changed (it came, went, or published its open stores): if this node
   * is the controller, record the stores of shards that have none recorded yet.
   */
  public void nodesChanged() {
    if (latch.hasLeadership()) {
      events.execute(this::recordStores);
    }
  }

  /**
   * Records, for each shard whose store is not recorded yet, the store its owner has opened
   * (from the owner's registration). A recorded store is never replaced here: an owner that
   * shows another store for a shard lost its data, and only an admin's explicit acceptance
   * ({@link DataLossAcceptance}) may record the new one. Controller thread only.
   */
  private void recordStores() {
    long myEpoch = epoch.get();
    if (myEpoch < 0 || !latch.hasLeadership()) {
      return;
    }
    try {
      Stat stat = new Stat();
      Optional<ShardAssignment> read;
      try {
        read = ShardAssignment.fromJson(
            zk.getData().storingStatIn(stat).forPath(paths.assignment()));
      } catch (KeeperException.NoNodeException notFormed) {
        return;
      }
      if (read.isEmpty()) {
        return;
      }
      ShardAssignment next = read.get();
      List<Integer> recorded = new java.util.ArrayList<>();
      for (ShardAssignment.Entry entry : read.get().shards()) {
        if (entry.storeRecorded()) {
          continue;
        }
        String store = ClusterState.readRegistration(zk, paths, entry.owner())
            .map(r -> r.stores().get(entry.shard())).orElse(null);
        if (store != null) {
          next = next.withStore(entry.shard(), store);
          recorded.add(entry.shard());
        }
      }
      if (!recorded.isEmpty()) {
        writeFenced(next, stat.getVersion(), myEpoch);
        log.info("node {}: recorded the owners' stores of shards {}", nodeId, recorded);
      }
    } catch (NotControllerException e) {
      // Either deposed, or the assignment changed between the read and the write: if still
      // the controller at this epoch, read again.
      if (latch.hasLeadership() && epoch.get() == myEpoch) {
        retryLater(this::recordStores);
      }
    } catch (Exception e) {
      log.warn("node {}: cannot record shard stores ({}); will retry", nodeId, e.toString());
      retryLater(this::recordStores);
    }
  }

  private void retryLater(Runnable task) {
    events.execute(() -> {
      try {
        TimeUnit.MILLISECONDS.sleep(200);
        task.run();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
  }

  /**
   * Moves a shard to another node, as an admin-driven move will once it copies data. There is
   * deliberately no "am I the leader" pre-check: the fence is the ZooKeeper transaction.
   *
   * @throws NotControllerException if another controller was elected since this one
   */
  public ShardAssignment moveShard(int shard, String newOwner) {
    try {
      Stat stat = new Stat();
      byte[] data = zk.getData().storingStatIn(stat).forPath(paths.assignment());
      ShardAssignment current = ShardAssignment.fromJson(data).orElseThrow(
          () -> new ClusterException("no assignment to change yet", null));
      ShardAssignment next = current.withOwner(shard, newOwner);
      writeFenced(next, stat.getVersion(), epoch.get());
      return next;
    } catch (NotControllerException | ClusterException e) {
      throw e;
    } catch (Exception e) {
      throw new ClusterException("moving shard " + shard + " to " + newOwner + " failed", e);
    }
  }

  private void createFenced(ShardAssignment assignment, long myEpoch) throws Exception {
    commitFenced(myEpoch, "the initial assignment",
        zk.transactionOp().check().withVersion((int) myEpoch).forPath(paths.controllerEpoch()),
        zk.transactionOp().create().withMode(CreateMode.PERSISTENT)
            .forPath(paths.assignment(), assignment.toJson()));
  }

  void writeFenced(ShardAssignment assignment, int expectedVersion, long myEpoch) throws Exception {
    commitFenced(myEpoch, "an assignment change",
        zk.transactionOp().check().withVersion((int) myEpoch).forPath(paths.controllerEpoch()),
        zk.transactionOp().setData().withVersion(expectedVersion)
            .forPath(paths.assignment(), assignment.toJson()));
  }

  private void commitFenced(long myEpoch, String what, CuratorOp check, CuratorOp write)
      throws Exception {
    if (myEpoch < 0) {
      throw new NotControllerException(myEpoch, what);
    }
    try {
      List<CuratorTransactionResult> results = zk.transaction().forOperations(check, write);
      Optional<CuratorTransactionResult> failed =
          results.stream().filter(r -> r.getError() != 0).findFirst();
      if (failed.isPresent()) {
        throw new NotControllerException(myEpoch, what);
      }
    } catch (KeeperException.BadVersionException | KeeperException.NodeExistsException e) {
      throw new NotControllerException(myEpoch, what);
    }
  }

  @Override
  public void close() {
    try {
      latch.close(LeaderLatch.CloseMode.SILENT);
    } catch (Exception e) {
      log.debug("node {}: closing the controller latch: {}", nodeId, e.toString());
    }
    events.shutdownNow();
  }
}
