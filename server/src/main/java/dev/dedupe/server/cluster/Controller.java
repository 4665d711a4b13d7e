package dev.dedupe.server.cluster;

import dev.dedupe.server.replication.LeaderHandover;
import dev.dedupe.server.replication.ReplicaPlacement;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.replication.VersionedShardState;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's controller when elected: it forms the cluster (places every shard's replicas),
 * elects each shard's leader when the one named cannot lead, and records leaders' stores.
 *
 * <p>Election is Curator's {@link LeaderLatch}, which gives up leadership on SUSPENDED. That
 * alone cannot stop a write that a deposed controller already sent, so every write is also
 * fenced: on election the controller bumps the version of the controller-epoch znode, and
 * each write is a transaction that checks that version. A controller that was deposed, even
 * one that does not know it yet, gets {@link NotControllerException} instead of overwriting
 * its successor's decisions (Kafka's controller epoch, in ZooKeeper terms). A shard write also
 * names the shard znode's version it read, since the shard's leader writes its in-sync set
 * there too: a BADVERSION is read again and decided again, never overwritten.
 *
 * <p>The bump is fenced too, on the latch itself: it is one transaction that checks that this
 * node's latch znode, the one that was lowest when it was elected, still exists, and sets the
 * epoch znode at the version just read. A latch znode that was lowest once and still exists is
 * still the leader in ZooKeeper, whatever the local latch believes; so a deposed node whose
 * election callback runs late cannot push the epoch past its successor's. While this node
 * holds the latch, a failed takeover (a ZooKeeper hiccup, a lost race) is retried with
 * backoff, so that a leader never sits elected without a usable epoch.
 *
 * <p>Shards never move without their data: leaders are only ever elected from a shard's
 * in-sync set, and only a member live with the store it is in sync with
 * ({@link dev.dedupe.server.replication.LeaderElection}). A shard with no such member has no
 * leader, and is unavailable rather than handed to an empty store.
 *
 * <p>Threads: one thread of its own runs every takeover step, election and store recording,
 * so that they never interleave.
 */
public final class Controller implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Controller.class);

  /** The first pause before a failed takeover is tried again; it doubles up to the next. */
  private static final long FIRST_RETRY_MILLIS = 100;
  private static final long MAX_RETRY_MILLIS = 5_000;
  /** How long close() waits for a takeover step in progress to see it is closed. */
  private static final long CLOSE_WAIT_MILLIS = 2_000;
  /** How often the controller reconciles every shard without being told of a change. */
  private static final long SAFETY_NET_MILLIS = 5_000;

  private final CuratorFramework zk;
  private final ClusterPaths paths;
  private final String nodeId;
  private final int shardCount;
  private final int initialNodes;
  private final int replicationFactor;
  private final LeaderLatch latch;
  /** Tells of every change of the nodes' registrations: a leader gone, a store published. */
  private final CuratorCache nodesCache;
  /** Tells of new jobs and cancels ({@code moves/}), and of shard changes a job waits for. */
  private final CuratorCache movesCache;
  private final CuratorCache shardsCache;
  /** Runs the move jobs; controller thread only. */
  private final MoveDriver moves;
  /** Runs the plans (drains, rebalances, heals) and lets their jobs start; controller thread. */
  private final PlanDriver plans;
  /** Tells of new plans and cancels ({@code plans/}). */
  private final CuratorCache plansCache;
  /** Whether a heal check is scheduled for when the next gone node becomes due. */
  private boolean healCheckScheduled;
  /** Whether the last pass over the jobs left one running: shard changes matter only then. */
  private volatile boolean movesRunning = true;
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
  private volatile PositionProbe positionProbe = PositionProbe.NONE;
  /** Leader changes written by this node as controller. */
  private final AtomicLong elections = new AtomicLong();
  private volatile HandoverRequests handovers = HandoverRequests.NONE;
  private volatile boolean autoLeaderBalance;
  /** Shards being handed over now, to whom. Controller thread only. */
  private final Map<Integer, String> handoversInFlight = new java.util.HashMap<>();
  /** When a shard whose automatic handover failed may be tried again. Controller thread only. */
  private final Map<Integer, Long> handoverRetryAt = new java.util.HashMap<>();
  /** Automatic handovers to preferred leaders at once, so a balance never pauses many shards. */
  private static final int MAX_BALANCING = 2;
  /** The pause after a failed automatic handover of a stopping leader's shard. */
  private static final long STOPPING_RETRY_NANOS = 500_000_000L;
  /** The pause after a failed handover to a preferred leader. */
  private static final long BALANCE_RETRY_NANOS = 30_000_000_000L;

  /**
   * @param initialNodes how many nodes must register before the cluster forms
   * @param replicationFactor replicas per shard; the cluster forms only with this many live
   */
  public Controller(CuratorFramework zk, ClusterPaths paths, String nodeId, int shardCount,
      int initialNodes, int replicationFactor) {
    this(zk, paths, nodeId, shardCount, initialNodes, replicationFactor,
        Math.min(2, replicationFactor), java.time.InstantSource.system());
  }

  /**
   * @param minInsync {@code cluster.min-insync-replicas} as in force: a move never leaves a
   *     shard with fewer in-sync replicas
   * @param clock the wall clock that move jobs' times are read from
   */
  public Controller(CuratorFramework zk, ClusterPaths paths, String nodeId, int shardCount,
      int initialNodes, int replicationFactor, int minInsync, java.time.InstantSource clock) {
    this.zk = zk;
    this.paths = paths;
    this.nodeId = nodeId;
    this.shardCount = shardCount;
    this.initialNodes = initialNodes;
    this.replicationFactor = replicationFactor;
    this.latch = new LeaderLatch(zk, paths.controllerLatch(), nodeId);
    this.nodesCache = CuratorCache.build(zk, paths.nodes());
    this.movesCache = CuratorCache.build(zk, paths.moves());
    this.shardsCache = CuratorCache.build(zk, paths.shards());
    this.moves = new MoveDriver(zk, paths, nodeId, minInsync, clock, this::transferLeadership,
        delay -> {
          if (latch.hasLeadership()) {
            runOnEvents(this::advanceMoves, delay);
          }
        });
    this.plans = new PlanDriver(zk, paths, nodeId, clock);
    this.moves.setGate(plans.gate());
    this.plansCache = CuratorCache.build(zk, paths.plans());
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
    nodesCache.listenable().addListener((type, oldData, data) -> nodesChanged());
    nodesCache.start();
    movesCache.listenable().addListener((type, oldData, data) -> movesChanged(true));
    movesCache.start();
    shardsCache.listenable().addListener((type, oldData, data) -> movesChanged(false));
    shardsCache.start();
    plansCache.listenable().addListener((type, oldData, data) -> movesChanged(true));
    plansCache.start();
    // The safety net: elections also run on every change of the nodes, but a missed watch or
    // a failed write must not leave a shard leaderless until the next change.
    events.scheduleWithFixedDelay(this::reconcile, SAFETY_NET_MILLIS, SAFETY_NET_MILLIS,
        TimeUnit.MILLISECONDS);
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
      plans.resetDeadNodeClock(); // counts from this takeover (docs/design.md, "Plans")
      log.info("node {}: elected controller at epoch {}", nodeId, myEpoch);
      ClusterState.ensureConfig(zk, paths, shardCount);
      formOrMigrate(myEpoch);
      reconcile();
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
      FencedTransaction.Failure failed = FencedTransaction.commit(zk, List.of(
          zk.transactionOp().check().forPath(latchNode),
          zk.transactionOp().setData().withVersion(read.getVersion())
              .forPath(paths.controllerEpoch(), nodeId.getBytes(StandardCharsets.UTF_8))));
      if (failed == null) {
        // The epoch znode's version after this node's setData: one more than the one read.
        return read.getVersion() + 1;
      }
      int failedOp = failed.op();
      KeeperException.Code code = failed.code();
      if (failedOp == 0 && code == KeeperException.Code.NONODE) {
        throw new NotControllerException(epoch.get(), what);
      }
      if (failedOp == 1 && code == KeeperException.Code.BADVERSION
          && !closed && latch.hasLeadership()) {
        log.info("node {}: the controller epoch moved under the bump; reading it again", nodeId);
        continue;
      }
      throw new ClusterException("node " + nodeId + ": " + what + " failed: "
          + code + " on operation " + failedOp, null);
    }
  }

  /**
   * Makes sure the shard znodes exist: migrates a cluster formed before replication, or forms
   * a new one once enough nodes are there. Returns when they exist or leadership is gone.
   */
  private void formOrMigrate(long myEpoch) throws Exception {
    String lastWait = "";
    while (!closed && latch.hasLeadership() && epoch.get() == myEpoch) {
      if (ClusterState.readShardStates(zk, paths).isPresent()) {
        return;
      }
      Stat oldStat = new Stat();
      byte[] old = null;
      try {
        old = zk.getData().storingStatIn(oldStat).forPath(paths.oldAssignment());
      } catch (KeeperException.NoNodeException none) {
        // A new cluster, not one to migrate.
      }
      if (old != null && old.length > 0) {
        migrate(myEpoch, old, oldStat.getVersion());
        return;
      }
      Map<String, NodeRegistration> live = ClusterState.liveRegistrations(zk, paths);
      if (live.size() >= initialNodes && live.size() >= replicationFactor) {
        form(myEpoch, live);
        return;
      }
      String wait = live.size() < initialNodes
          ? "waiting for " + initialNodes + " nodes (cluster.initial-nodes) to register before"
              + " placing shards; " + live.size() + " registered: " + live.keySet()
          : "waiting for " + replicationFactor + " live nodes (cluster.replication-factor)"
              + " before placing shards; " + live.size() + " live: " + live.keySet();
      if (!wait.equals(lastWait)) {
        log.info("node {}: {}", nodeId, wait);
        lastWait = wait;
      }
      TimeUnit.MILLISECONDS.sleep(200);
    }
  }

  /** Places every shard's replicas and creates all shard znodes in one fenced transaction. */
  private void form(long myEpoch, Map<String, NodeRegistration> live) throws Exception {
    Map<String, String> zones = new TreeMap<>();
    live.forEach((id, r) -> zones.put(id, r.zone()));
    List<List<String>> placement = ReplicaPlacement.place(shardCount, zones, replicationFactor);
    List<ShardState> states = new ArrayList<>();
    for (int s = 0; s < shardCount; s++) {
      states.add(ShardState.formed(s, placement.get(s)));
    }
    List<CuratorOp> ops = new ArrayList<>();
    ops.add(epochCheck(myEpoch));
    ops.addAll(createShards(states));
    commitFenced(myEpoch, "the cluster's formation", ops);
    log.info("node {}: cluster formed; {} shards, {} replicas each, over {} (zones {})",
        nodeId, shardCount, replicationFactor, live.keySet(), zones);
  }

  /**
   * Turns a pre-replication assignment into shard znodes, and deletes it, in one fenced
   * transaction: no node ever sees both layouts, or neither.
   */
  private void migrate(long myEpoch, byte[] old, int oldVersion) throws Exception {
    List<ShardState> states = AssignmentMigration.statesOf(old, shardCount);
    List<CuratorOp> ops = new ArrayList<>();
    ops.add(epochCheck(myEpoch));
    ops.addAll(createShards(states));
    ops.add(zk.transactionOp().delete().withVersion(oldVersion).forPath(paths.oldAssignment()));
    commitFenced(myEpoch, "the migration of the old assignment", ops);
    log.info("node {}: migrated the old assignment to per-shard states: {} shards, each led by"
        + " its old owner in sync alone, at its old epoch + 1", nodeId, shardCount);
  }

  private List<CuratorOp> createShards(List<ShardState> states) throws Exception {
    List<CuratorOp> ops = new ArrayList<>();
    if (zk.checkExists().forPath(paths.shards()) == null) {
      ops.add(zk.transactionOp().create().withMode(CreateMode.PERSISTENT)
          .forPath(paths.shards(), new byte[0]));
    }
    for (ShardState state : states) {
      ops.add(zk.transactionOp().create().withMode(CreateMode.PERSISTENT)
          .forPath(paths.shard(state.shard()), ShardStateJson.toJson(state)));
    }
    return ops;
  }

  /**
   * A node's registration changed (it came, went, or published its open stores): if this node
   * is the controller, elect where a leader cannot lead and record new leaders' stores.
   */
  private void nodesChanged() {
    if (latch.hasLeadership()) {
      runOnEvents(this::reconcile, 0);
    }
  }

  /**
   * Runs {@link ShardStewardship} for every shard and writes what it decides, fenced.
   * Controller thread only.
   */
  private void reconcile() {
    long myEpoch = epoch.get();
    if (closed || myEpoch < 0 || !latch.hasLeadership()) {
      return;
    }
    try {
      Optional<ShardStates> read = ClusterState.readShardStates(zk, paths);
      if (read.isEmpty()) {
        return; // not formed yet: the takeover forms it, then reconciles
      }
      Map<String, NodeRegistration> live = ClusterState.liveRegistrations(zk, paths);
      java.util.Set<String> drained = ClusterState.drainedNodes(zk, paths);
      for (VersionedShardState shard : read.get().byShard().values()) {
        steward(myEpoch, shard, live, drained);
      }
      startHandovers(read.get(), live, drained);
      long nextHeal = plans.heal(myEpoch, read.get(), live);
      if (nextHeal > 0 && !healCheckScheduled) {
        healCheckScheduled = true;
        runOnEvents(() -> {
          healCheckScheduled = false;
          reconcile();
        }, nextHeal);
      }
      // Also the safety net and the resumption of jobs after a change of controller.
      advanceMoves();
    } catch (NotControllerException e) {
      // Deposed: the new controller reconciles. Still the controller at this epoch means the
      // epoch check failed for another reason; read again later.
      if (latch.hasLeadership() && epoch.get() == myEpoch) {
        retryLater(this::reconcile);
      }
    } catch (Exception e) {
      if (closed) {
        return;
      }
      log.warn("node {}: cannot reconcile shard states ({}); will retry", nodeId, e.toString());
      retryLater(this::reconcile);
    }
  }

  /** One shard: decide, write at the version read; on a concurrent change, read and decide again. */
  private void steward(long myEpoch, VersionedShardState read, Map<String, NodeRegistration> live,
      java.util.Set<String> drained) throws Exception {
    VersionedShardState current = read;
    int shard = read.state().shard();
    Map<String, String> liveStores = ClusterState.liveStores(live, shard);
    // Elections prefer a member that is neither stopping nor drained, but elect one of those
    // rather than leave the shard without a leader.
    java.util.Set<String> stopping = new java.util.TreeSet<>(ClusterState.stopping(live));
    stopping.addAll(drained);
    while (!closed) {
      ShardState before = current.state();
      Optional<ShardState> next =
          ShardStewardship.next(before, live.keySet(), liveStores, stopping, positionProbe);
      if (next.isEmpty()) {
        return;
      }
      if (writeShard(myEpoch, current, next.get())) {
        logChange(before, next.get());
        return;
      }
      // The leader changed its in-sync set (or the shard changed otherwise) since the read.
      Optional<VersionedShardState> again = ClusterState.readShard(zk, paths, shard);
      if (again.isEmpty()) {
        return;
      }
      current = again.get();
    }
  }

  /**
   * A job was created or cancelled ({@code jobs}), or a shard changed: if this node is the
   * controller, run a pass over the jobs. Shard changes (every in-sync change of every leader)
   * are skipped while no job runs.
   */
  private void movesChanged(boolean jobs) {
    if (latch.hasLeadership() && (jobs || movesRunning)) {
      runOnEvents(this::advanceMoves, 0);
    }
  }

  /** One pass of the {@link MoveDriver}, fenced at this controller's epoch. Controller thread only. */
  private void advanceMoves() {
    long myEpoch = epoch.get();
    if (closed || myEpoch < 0 || !latch.hasLeadership()) {
      return;
    }
    try {
      boolean plansRunning = plans.advance(myEpoch);
      movesRunning = moves.advance(myEpoch) || plansRunning;
    } catch (NotControllerException e) {
      if (latch.hasLeadership() && epoch.get() == myEpoch) {
        retryLater(this::advanceMoves);
      }
    } catch (Exception e) {
      if (closed) {
        return;
      }
      log.warn("node {}: cannot advance the move jobs ({}); will retry", nodeId, e.toString());
      retryLater(this::advanceMoves);
    }
  }

  private void logChange(ShardState before, ShardState after) {
    if (after.epoch() == before.epoch()) {
      if (after.isr().keySet().equals(before.isr().keySet())) {
        log.info("node {}: shard {}: recorded leader {}'s store {}", nodeId, after.shard(),
            after.leader(), after.isr().get(after.leader()));
      } else {
        log.info("node {}: shard {}: in sync now {} (departed followers dropped; was {})",
            nodeId, after.shard(), after.isr().keySet(), before.isr().keySet());
      }
      return;
    }
    elections.incrementAndGet();
    if (after.hasLeader()) {
      log.info("node {}: shard {}: elected leader {} (was {}) at epoch {}; in sync {}", nodeId,
          after.shard(), after.leader(), describe(before.leader()), after.epoch(), after.isr());
    } else {
      log.warn("node {}: shard {}: no leader at epoch {} (was {}): no in-sync replica is live"
          + " with its in-sync store; in sync {}. It leads again when one returns", nodeId,
          after.shard(), after.epoch(), describe(before.leader()), after.isr());
    }
  }

  private static String describe(String leader) {
    return leader.isEmpty() ? "none" : leader;
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
      // close() shut the executor down meanwhile: nothing left to do.
    }
  }

  /**
   * Move jobs running, as this node's last pass as controller found them; 0 on a node that is
   * not the controller (so summed over the nodes it is the cluster's figure).
   */
  public int movesRunning() {
    return latch.hasLeadership() ? moves.runningCount() : 0;
  }

  /** How many leader changes this node has written as controller (its metrics read it). */
  public long electionCount() {
    return elections.get();
  }

  /** Where elections learn candidates' log positions; the replication runtime sets a real one. */
  public void setPositionProbe(PositionProbe probe) {
    this.positionProbe = java.util.Objects.requireNonNull(probe, "probe");
  }

  /** How this controller asks leaders to hand over; the replication runtime sets a real one. */
  public void setHandoverRequests(HandoverRequests requests) {
    this.handovers = java.util.Objects.requireNonNull(requests, "requests");
  }

  /**
   * Whether this controller moves leaderships back to their preferred replicas by itself
   * ({@code cluster.auto-leader-balance}), with the same clean handover.
   */
  public void setAutoLeaderBalance(boolean enabled) {
    this.autoLeaderBalance = enabled;
  }

  /**
   * How long a node that holds replicas may be gone before this controller rebuilds its
   * replicas elsewhere with a HEAL plan ({@code cluster.replace-dead-node-after.seconds});
   * zero never does. The count starts when this controller sees the node gone, at the latest
   * at its own takeover.
   */
  public void setReplaceDeadNodeAfter(java.time.Duration after) {
    plans.setReplaceDeadNodeAfter(after);
  }

  /**
   * Hands the leadership of {@code shard} to {@code to}, a live in-sync replica with its in-sync
   * store, without a failover (docs/design.md, "Leadership handover"): the leader stops
   * deciding rounds and says when {@code to} has its whole log; then this controller writes
   * {@code to} as leader at epoch + 1, fenced, with the old leader kept in sync, and {@code to}
   * becomes the preferred (first) replica so that an automatic balance keeps the choice.
   * Never blocks: the work runs on the controller thread and the ZooKeeper and gRPC answers.
   *
   * @return completes with the state written; fails with {@link NotControllerException} if this
   *     node is not (or no longer) the controller, or {@link ClusterException} if {@code to}
   *     cannot lead, the leader refused or was not ready within its lease, or the shard changed
   *     meanwhile. After a failure the old leader leads on (at the latest when its lease ends)
   *     and nothing is lost.
   */
  public CompletableFuture<ShardState> transferLeadership(int shard, String to) {
    var result = new CompletableFuture<ShardState>();
    try {
      events.execute(() -> handOver(shard, to, true, result));
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      result.completeExceptionally(new NotControllerException(epoch.get(),
          "a leadership handover of shard " + shard + " (the controller is closed)"));
    }
    return result;
  }

  /** Controller thread: checks the handover, then asks the leader to get ready. */
  private void handOver(int shard, String to, boolean makePreferred,
      CompletableFuture<ShardState> result) {
    long myEpoch = epoch.get();
    String what = "a leadership handover of shard " + shard + " to " + to;
    try {
      if (closed || myEpoch < 0 || !latch.hasLeadership()) {
        throw new NotControllerException(myEpoch, what);
      }
      String busy = handoversInFlight.get(shard);
      if (busy != null) {
        throw new ClusterException("shard " + shard + " is being handed over to " + busy
            + " already", null);
      }
      VersionedShardState read = ClusterState.readShard(zk, paths, shard).orElseThrow(
          () -> new ClusterException("shard " + shard + " has no state yet", null));
      Map<String, NodeRegistration> live = ClusterState.liveRegistrations(zk, paths);
      Optional<String> refused = LeaderHandover.refusal(read.state(), to,
          ClusterState.liveStores(live, shard), ClusterState.stopping(live));
      if (refused.isPresent()) {
        throw new ClusterException(what + " refused: " + refused.get(), null);
      }
      String from = read.state().leader();
      handoversInFlight.put(shard, to);
      log.info("node {}: shard {}: asking leader {} to hand over to {} at epoch {}", nodeId,
          shard, from, to, read.state().epoch());
      handovers.prepare(from, shard, read.state().epoch(), to).whenComplete((ready, failed) -> {
        try {
          events.execute(() -> finishHandover(shard, from, to, makePreferred, myEpoch, ready,
              failed, result));
        } catch (java.util.concurrent.RejectedExecutionException closing) {
          result.completeExceptionally(new NotControllerException(myEpoch, what));
        }
      });
    } catch (NotControllerException | ClusterException e) {
      result.completeExceptionally(e);
    } catch (Exception e) {
      result.completeExceptionally(new ClusterException(what + " failed", e));
    }
  }

  /**
   * Controller thread: the leader answered. Writes {@code to} as leader at the znode version the
   * leader answered with: if the leader resumed meanwhile (its lease ran out), its own write at
   * that version came first and this one fails, so a leader never decides a round after it
   * was handed over from.
   */
  private void finishHandover(int shard, String from, String to, boolean makePreferred,
      long myEpoch, LeaderHandover.Ready ready, Throwable failed,
      CompletableFuture<ShardState> result) {
    handoversInFlight.remove(shard);
    String what = "the handover of shard " + shard + " from " + from + " to " + to;
    try {
      if (failed != null) {
        Throwable cause = failed instanceof java.util.concurrent.CompletionException
            && failed.getCause() != null ? failed.getCause() : failed;
        throw new ClusterException(what + " failed: " + cause.getMessage(), cause);
      }
      if (closed || epoch.get() != myEpoch || !latch.hasLeadership()) {
        throw new NotControllerException(myEpoch, what);
      }
      VersionedShardState now = ClusterState.readShard(zk, paths, shard).orElseThrow(
          () -> new ClusterException("shard " + shard + " has no state", null));
      // T must still be live and in sync with its store. A T that began stopping meanwhile
      // still gets it: its own stop hands it on, which costs less than the old leader's lease.
      Map<String, NodeRegistration> live = ClusterState.liveRegistrations(zk, paths);
      Optional<String> refused = LeaderHandover.refusal(now.state(), to,
          ClusterState.liveStores(live, shard), java.util.Set.of());
      if (now.version() != ready.version() || now.state().epoch() != ready.epoch()
          || !now.state().isLeader(from) || refused.isPresent()) {
        throw new ClusterException(what + " failed: the shard changed meanwhile (now "
            + now.state().leader() + " at epoch " + now.state().epoch() + ", version "
            + now.version() + "; the leader answered at version " + ready.version() + ")"
            + refused.map(r -> ": " + r).orElse("") + "; the old leader leads on", null);
      }
      ShardState next = LeaderHandover.handedOver(now.state(), to, makePreferred);
      if (!writeShard(myEpoch, now, next)) {
        throw new ClusterException(what + " failed: the shard changed while writing; the old"
            + " leader leads on", null);
      }
      elections.incrementAndGet();
      log.info("node {}: shard {}: handed over from {} to {} at epoch {} after {}; in sync {}",
          nodeId, shard, from, to, next.epoch(), ready.end(), next.isr().keySet());
      result.complete(next);
    } catch (NotControllerException | ClusterException e) {
      result.completeExceptionally(e);
    } catch (Exception e) {
      result.completeExceptionally(new ClusterException(what + " failed", e));
    }
  }

  /**
   * Controller thread: starts the handovers the cluster needs by itself: every shard led by a
   * stopping node goes to another eligible in-sync replica, and, with
   * {@code cluster.auto-leader-balance}, a shard whose preferred replica can lead again goes
   * back to it (a few at a time). {@code read} is the reconcile's read: a state the stewardship
   * changed since is read again by the handover itself, which checks it anew.
   */
  private void startHandovers(ShardStates read, Map<String, NodeRegistration> live,
      java.util.Set<String> drained) {
    java.util.Set<String> stopping = ClusterState.stopping(live);
    // The automatic balance never hands a leadership to a drained node.
    java.util.Set<String> avoid = new java.util.TreeSet<>(stopping);
    avoid.addAll(drained);
    if (stopping.isEmpty() && !autoLeaderBalance) {
      return;
    }
    long now = System.nanoTime();
    for (VersionedShardState v : read.byShard().values()) {
      ShardState s = v.state();
      int shard = s.shard();
      Long retryAt = handoverRetryAt.get(shard);
      if (handoversInFlight.containsKey(shard) || (retryAt != null && now - retryAt < 0)) {
        continue;
      }
      Map<String, String> liveStores = ClusterState.liveStores(live, shard);
      boolean leaderStopping = s.hasLeader() && stopping.contains(s.leader());
      Optional<String> to;
      if (leaderStopping) {
        to = LeaderHandover.targetForStoppingLeader(s, liveStores, stopping);
      } else if (autoLeaderBalance && handoversInFlight.size() < MAX_BALANCING) {
        to = LeaderHandover.preferredLeader(s, liveStores, avoid);
      } else {
        continue;
      }
      if (to.isEmpty()) {
        continue;
      }
      String why = leaderStopping ? "its leader " + s.leader() + " is stopping"
          : to.get() + " is its preferred leader";
      log.info("node {}: shard {}: handing over to {}: {}", nodeId, shard, to.get(), why);
      var done = new CompletableFuture<ShardState>();
      handOver(shard, to.get(), false, done);
      done.whenComplete((written, failed) -> runOnEvents(() -> {
        if (failed != null) {
          log.info("node {}: shard {}: {}", nodeId, shard, failed.getMessage());
          handoverRetryAt.put(shard, System.nanoTime()
              + (leaderStopping ? STOPPING_RETRY_NANOS : BALANCE_RETRY_NANOS));
        } else {
          handoverRetryAt.remove(shard);
        }
        reconcile(); // the next shards (the balance goes a few at a time)
      }, failed == null ? 0 : leaderStopping ? STOPPING_RETRY_NANOS / 1_000_000 : 0));
    }
  }

  /**
   * Makes {@code newOwner} the shard's leader, in sync alone with its store to be recorded, at
   * the next epoch; if it holds no replica of the shard, it replaces the old leader's. This
   * moves leadership without data: the move that copies data first will use it. There is
   * deliberately no "am I the leader" pre-check: the fence is the ZooKeeper transaction.
   *
   * @return the state written
   * @throws NotControllerException if another controller was elected since this one
   * @throws ClusterException if the shard changed meanwhile, or ZooKeeper failed
   */
  public ShardState moveShard(int shard, String newOwner) {
    try {
      VersionedShardState read = ClusterState.readShard(zk, paths, shard).orElseThrow(
          () -> new ClusterException("shard " + shard + " has no state yet", null));
      ShardState current = read.state();
      List<String> replicas = new ArrayList<>(current.replicas());
      if (!replicas.contains(newOwner)) {
        int replaced = current.hasLeader() ? replicas.indexOf(current.leader()) : 0;
        replicas.set(replaced, newOwner);
      }
      ShardState next = new ShardState(shard, replicas, newOwner, current.epoch() + 1,
          Map.of(newOwner, ""));
      if (!writeShard(epoch.get(), read, next)) {
        throw new ClusterException("shard " + shard + " changed while moving it; try again", null);
      }
      return next;
    } catch (NotControllerException | ClusterException e) {
      throw e;
    } catch (Exception e) {
      throw new ClusterException("moving shard " + shard + " to " + newOwner + " failed", e);
    }
  }

  /**
   * Writes {@code next} over {@code read}, in one transaction with the check of the controller
   * epoch. Package-private for tests, which write in-sync sets as a leader would.
   *
   * @return false if the shard znode is no longer at {@code read}'s version (re-read it)
   * @throws NotControllerException if another controller took over since {@code myEpoch}
   */
  boolean writeShard(long myEpoch, VersionedShardState read, ShardState next) throws Exception {
    String what = "a change of shard " + next.shard();
    if (myEpoch < 0) {
      throw new NotControllerException(myEpoch, what);
    }
    FencedTransaction.Failure failed = FencedTransaction.commit(zk, List.of(
        epochCheck(myEpoch),
        zk.transactionOp().setData().withVersion(read.version())
            .forPath(paths.shard(next.shard()), ShardStateJson.toJson(next))));
    if (failed == null) {
      return true;
    }
    if (failed.op() == 0) {
      throw new NotControllerException(myEpoch, what);
    }
    if (failed.code() == KeeperException.Code.BADVERSION
        || failed.code() == KeeperException.Code.NONODE) {
      return false;
    }
    throw new ClusterException(what + " failed: " + failed.code(), null);
  }

  /** {@link #writeShard} at this controller's epoch, for tests. */
  boolean writeShard(VersionedShardState read, ShardState next) throws Exception {
    return writeShard(epoch.get(), read, next);
  }

  private CuratorOp epochCheck(long myEpoch) throws Exception {
    return FencedTransaction.epochCheck(zk, paths, myEpoch);
  }

  /** Commits a creation or migration; any failure means another controller's epoch or work. */
  private void commitFenced(long myEpoch, String what, List<CuratorOp> ops) throws Exception {
    if (myEpoch < 0) {
      throw new NotControllerException(myEpoch, what);
    }
    FencedTransaction.Failure failed = FencedTransaction.commit(zk, ops);
    if (failed != null) {
      throw new NotControllerException(myEpoch, what + " (" + failed.code() + " on operation "
          + failed.op() + ")");
    }
  }

  @Override
  public void close() {
    closed = true;
    nodesCache.close();
    movesCache.close();
    shardsCache.close();
    plansCache.close();
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
