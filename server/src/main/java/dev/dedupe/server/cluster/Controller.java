package dev.dedupe.server.cluster;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.OpResult;
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
 * <p>The bump is fenced too, on the latch itself: it is one transaction that checks that this
 * node's latch znode, the one that was lowest when it was elected, still exists, and sets the
 * epoch znode at the version just read. A latch znode that was lowest once and still exists is
 * still the leader in ZooKeeper, whatever the local latch believes; so a deposed node whose
 * election callback runs late cannot push the epoch past its successor's. While this node
 * holds the latch, a failed takeover (a ZooKeeper hiccup, a lost race) is retried with
 * backoff, so that a leader never sits elected without a usable epoch.
 *
 * <p>Shards never change owner here without their data: until replication exists, the
 * controller assigns shards once, when the cluster first forms ({@code initialNodes} nodes
 * have registered), and keeps that assignment; a node that is down leaves its shards
 * unavailable rather than handing them to an empty store.
 */
public final class Controller implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Controller.class);

  /** The first pause before a failed takeover is tried again; it doubles up to the next. */
  private static final long FIRST_RETRY_MILLIS = 100;
  private static final long MAX_RETRY_MILLIS = 5_000;
  /** How long close() waits for a takeover step in progress to see it is closed. */
  private static final long CLOSE_WAIT_MILLIS = 2_000;

  private final CuratorFramework zk;
  private final ClusterPaths paths;
  private final String nodeId;
  private final int shardCount;
  private final int initialNodes;
  private final LeaderLatch latch;
  /** Runs election callbacks and takeover retries, one at a time. */
  private final ScheduledExecutorService events;
  /** The controller-epoch znode version this controller was elected at; -1 before election. */
  private final AtomicLong epoch = new AtomicLong(-1);
  private volatile boolean closed;
  /**
   * The takeover retry that is scheduled, or null. Set on the events thread; volatile because
   * tests run {@link #onElected} on their own thread.
   */
  private volatile ScheduledFuture<?> retry;

  public Controller(
      CuratorFramework zk, ClusterPaths paths, String nodeId, int shardCount, int initialNodes) {
    this.zk = zk;
    this.paths = paths;
    this.nodeId = nodeId;
    this.shardCount = shardCount;
    this.initialNodes = initialNodes;
    this.latch = new LeaderLatch(zk, paths.controllerLatch(), nodeId);
    this.events = Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name("controller-" + nodeId).daemon(true).factory());
  }

  public void start() {
    latch.addListener(new LeaderLatchListener() {
      @Override
      public void isLeader() {
        // Already on the events thread (the listener's executor); no second hop, which could
        // be refused by an executor that close() has just shut down.
        onElected();
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

  /**
   * The latch's isLeader callback (package-private so that tests can run it late, as a paused
   * thread would): takes over as controller, retrying while this node holds the latch.
   */
  void onElected() {
    ScheduledFuture<?> pending = retry;
    if (pending != null) {
      pending.cancel(false); // this election supersedes the retry of an earlier one
    }
    takeOver(FIRST_RETRY_MILLIS);
  }

  private void takeOver(long nextRetryMillis) {
    retry = null;
    if (closed || !latch.hasLeadership()) {
      return; // a late callback, or a retry after leadership went: the new leader takes over
    }
    try {
      long myEpoch = bumpEpoch();
      epoch.set(myEpoch);
      log.info("node {}: elected controller at epoch {}", nodeId, myEpoch);
      ClusterState.ensureConfig(zk, paths, shardCount);
      assignIfFirstFormed(myEpoch);
      recordStores();
    } catch (Exception e) {
      if (closed) {
        // close() interrupts a takeover in progress; stopping is not a failure.
        log.debug("node {}: controller takeover stopped by close: {}", nodeId, e.toString());
        return;
      }
      if (!latch.hasLeadership()) {
        log.info("node {}: lost the controller latch while taking over: {}", nodeId, e.toString());
        return;
      }
      // Still the latch holder, so no other node will take over: this one must, or the
      // cluster has no controller. Each attempt bumps the epoch anew, fenced on the latch.
      if (e instanceof NotControllerException) {
        log.info("node {}: {}; trying again in {} ms", nodeId, e.getMessage(), nextRetryMillis);
      } else {
        log.warn("node {}: taking over as controller failed; still the latch holder, so trying"
            + " again in {} ms", nodeId, nextRetryMillis, e);
      }
      long after = Math.min(nextRetryMillis * 2, MAX_RETRY_MILLIS);
      try {
        retry = events.schedule(() -> takeOver(after), nextRetryMillis, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException closing) {
        // close() shut the executor down meanwhile.
      }
    }
  }

  /**
   * Bumps the controller epoch, only as the latch holder in ZooKeeper: one transaction checks
   * that the latch znode this node was elected with still exists and sets the epoch znode at
   * the version just read. Another bump between the read and the transaction (BADVERSION) is
   * read again and retried while this node holds the latch. Package-private for tests.
   *
   * @return the new controller epoch (the epoch znode's version)
   * @throws NotControllerException if this node's latch znode is gone: it was deposed
   */
  long bumpEpoch() throws Exception {
    String latchNode = latch.getLastPathIsLeader();
    if (latchNode == null) {
      throw new NotControllerException(epoch.get(), "the controller-epoch bump (never elected)");
    }
    try {
      zk.create().creatingParentsIfNeeded().forPath(paths.controllerEpoch(), new byte[0]);
    } catch (KeeperException.NodeExistsException exists) {
      // Set up by an earlier controller.
    }
    String what = "the controller-epoch bump as latch node " + latchNode;
    while (true) {
      Stat read = zk.checkExists().forPath(paths.controllerEpoch());
      if (read == null) {
        throw new ClusterException("node " + nodeId + ": " + paths.controllerEpoch()
            + " disappeared; it must never be deleted", null);
      }
      int failedOp;
      int code;
      try {
        List<CuratorTransactionResult> results = zk.transaction().forOperations(
            zk.transactionOp().check().forPath(latchNode),
            zk.transactionOp().setData().withVersion(read.getVersion())
                .forPath(paths.controllerEpoch(), nodeId.getBytes(StandardCharsets.UTF_8)));
        failedOp = indexOfFirst(results.stream().map(CuratorTransactionResult::getError).toList());
        if (failedOp < 0) {
          return results.get(1).getResultStat().getVersion();
        }
        code = results.get(failedOp).getError();
      } catch (KeeperException e) {
        if (e.getResults() == null) {
          throw e;
        }
        List<Integer> errors = e.getResults().stream()
            .map(r -> r instanceof OpResult.ErrorResult err ? err.getErr() : 0).toList();
        failedOp = indexOfFirst(errors);
        if (failedOp < 0) {
          throw e;
        }
        code = errors.get(failedOp);
      }
      if (failedOp == 0 && code == KeeperException.Code.NONODE.intValue()) {
        throw new NotControllerException(epoch.get(), what);
      }
      if (failedOp == 1 && code == KeeperException.Code.BADVERSION.intValue()
          && !closed && latch.hasLeadership()) {
        log.info("node {}: the controller epoch moved under the bump; reading it again", nodeId);
        continue;
      }
      throw new ClusterException("node " + nodeId + ": " + what + " failed: "
          + KeeperException.Code.get(code) + " on operation " + failedOp, null);
    }
  }

  /**
   * The operation of a failed transaction that caused the failure: the first error that is not
   * the RUNTIMEINCONSISTENCY ZooKeeper gives the operations after it; -1 if none failed.
   */
  private static int indexOfFirst(List<Integer> errors) {
    for (int i = 0; i < errors.size(); i++) {
      int err = errors.get(i);
      if (err != 0 && err != KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()) {
        return i;
      }
    }
    return -1;
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
      runOnEvents(this::recordStores, 0);
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
      // One read per owner, not per shard: an owner's registration lists all its stores.
      java.util.Map<String, Optional<NodeRegistration>> owners = new java.util.HashMap<>();
      for (ShardAssignment.Entry entry : read.get().shards()) {
        if (entry.storeRecorded()) {
          continue;
        }
        if (!owners.containsKey(entry.owner())) {
          owners.put(entry.owner(), ClusterState.readRegistration(zk, paths, entry.owner()));
        }
        String store = owners.get(entry.owner())
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
      if (closed) {
        return;
      }
      log.warn("node {}: cannot record shard stores ({}); will retry", nodeId, e.toString());
      retryLater(this::recordStores);
    }
  }

  private void retryLater(Runnable task) {
    runOnEvents(task, 200);
  }

  /** Runs {@code task} on the controller thread after {@code delayMillis}, unless closed. */
  private void runOnEvents(Runnable task, long delayMillis) {
    if (closed) {
      return;
    }
    try {
      events.schedule(task, delayMillis, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      // close() shut the executor down meanwhile: nothing left to record.
    }
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
    closed = true;
    try {
      latch.close(LeaderLatch.CloseMode.SILENT);
    } catch (Exception e) {
      log.debug("node {}: closing the controller latch: {}", nodeId, e.toString());
    }
    // Interrupts a takeover in progress (it sees closed and stops quietly), then waits a
    // bounded time so that no controller write follows close() on a connected session.
    events.shutdownNow();
    try {
      if (!events.awaitTermination(CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
        log.debug("node {}: the controller thread did not stop within {} ms", nodeId,
            CLOSE_WAIT_MILLIS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
