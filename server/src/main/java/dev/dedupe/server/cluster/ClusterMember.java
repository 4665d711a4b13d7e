package dev.dedupe.server.cluster;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.ClusterConfig;
import dev.dedupe.server.copy.CopyProgress;
import dev.dedupe.server.copy.CopyThrottle;
import dev.dedupe.server.core.ShardDirectory;
import dev.dedupe.server.core.ShardRoute;
import dev.dedupe.server.decision.ShardMap;
import dev.dedupe.server.decision.Unhandled;
import dev.dedupe.server.replication.InSyncWriter;
import dev.dedupe.server.replication.ReplicaRoles;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.shard.ShardWriter;
import dev.dedupe.server.storage.DataDirectory;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.time.Duration;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node as a member of a cluster: it registers itself, takes part in the controller
 * election, follows every shard's state, opens every shard it holds a replica of (leader or
 * follower) and closes the ones it no longer holds, publishes the stores it has open, tells
 * the replication runtime the shards' states ({@link ReplicaRoles}), and tells the engine
 * where every shard's leader is.
 *
 * <p>Self-fencing ({@link ServingFence} holds the rule): a node answers for the shards it
 * leads only while its ZooKeeper session is connected, it has read the shard states under that
 * connection, and its local lease on the session, renewed by {@link SessionHeartbeat}, has not
 * run out. On SUSPENDED or LOST it stops at once (every id of its shards is answered
 * UNAVAILABLE). On RECONNECTED it re-reads the shard states before it serves again, because
 * they may have changed while it was cut off (Curator's advice: treat SUSPENDED as lost for anything
 * that fences). The lease covers what Curator cannot report in time: a node paused past its
 * session timeout.
 *
 * <p>Threads: Curator's event thread moves the fence; one event thread of our own reads
 * ZooKeeper and opens and closes shards; the heartbeat has its own timer; routing and the
 * shard writers read the fence and a volatile view from any thread.
 */
public final class ClusterMember implements ShardDirectory, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ClusterMember.class);

  /**
   * What this node knows of the cluster: every shard's state (null before the cluster formed)
   * and the live nodes' addresses.
   */
  private record View(ShardStates states, Map<String, String> addresses) {}

  private final ClusterConfig config;
  private final String nodeId;
  private final ClusterPaths paths;
  private final ShardSet shards;
  private final ScheduledExecutorService events;
  /** Set by close(): no more re-reads are scheduled, and their failures are not news. */
  private volatile boolean closed;
  private final Set<Runnable> mapListeners = new CopyOnWriteArraySet<>();
  private volatile ReplicaRoles replicaRoles = (states, addresses) -> { };
  private final ServingFence fence;
  /** Set once by start(); read by the admin API's threads. */
  private volatile CuratorFramework zk;
  private SessionHeartbeat heartbeat;
  private Membership membership;
  private Controller controller;
  private CuratorCache shardsCache;
  private volatile PositionProbe positionProbe = PositionProbe.NONE;
  private volatile HandoverRequests handoverRequests = HandoverRequests.NONE;
  private CuratorCache nodesCache;
  private volatile View view;
  /** Shards already logged as lost here; event thread only. */
  private final Set<Integer> reportedLost = new java.util.HashSet<>();
  /** How many times the node fenced itself after having served; for metrics and tests. */
  private final AtomicLong fences = new AtomicLong();
  /** Data of shards no longer held here, kept for the grace; event thread only. */
  private final RemovedReplicas removed;
  /** The node's copy throttle, which the throttle znode sets; null: none (set before start). */
  private volatile CopyThrottle copyThrottle;
  /** The copies this node makes as a leader, to publish; null: none (set before start). */
  private volatile java.util.function.LongFunction<List<CopyProgress>>
      copyProgress;
  private ZkThrottle throttleWatch;
  private CopyPublisher copyPublisher;

  /**
   * @param fence the fence this member moves and the shard writers of {@code shards} ask
   */
  public ClusterMember(
      ClusterConfig config, DataDirectory directory, ShardSet shards, ServingFence fence) {
    this.config = config;
    this.fence = fence;
    this.nodeId = nodeIdOf(config, directory);
    this.paths = ClusterPaths.forCluster(config.name());
    this.shards = shards;
    this.events = Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name("cluster-" + nodeId).daemon(true).factory());
    this.removed = new RemovedReplicas(config.removedReplicaGrace(), System::nanoTime);
  }

  /**
   * The node's copy throttle, which this member keeps set to the cluster's throttle znode,
   * and the copies it leads, which it publishes for {@code admin moves}. Set before
   * {@link #start}.
   */
  public void setCopies(CopyThrottle throttle,
      java.util.function.LongFunction<List<CopyProgress>> copies) {
    this.copyThrottle = java.util.Objects.requireNonNull(throttle, "throttle");
    this.copyProgress = java.util.Objects.requireNonNull(copies, "copies");
  }

  public String nodeId() {
    return nodeId;
  }

  /** A node's id: {@code cluster.node-id}, or else the one its data directory made. */
  public static String nodeIdOf(ClusterConfig config, DataDirectory directory) {
    return config.nodeId().isEmpty() ? directory.nodeId() : config.nodeId();
  }

  /** The controller of this node (elected or not). */
  public Controller controller() {
    return controller;
  }

  /**
   * The replication runtime's listener, told every shard's state and the live nodes' addresses
   * after each re-read. Set before {@link #start}; without one, nothing is told.
   */
  public void setReplicaRoles(ReplicaRoles roles) {
    this.replicaRoles = java.util.Objects.requireNonNull(roles, "roles");
  }

  /** How the controller, when this node is elected, learns candidates' log positions. */
  public void setPositionProbe(PositionProbe probe) {
    this.positionProbe = java.util.Objects.requireNonNull(probe, "probe");
    Controller c = controller;
    if (c != null) {
      c.setPositionProbe(probe);
    }
  }

  /** How the controller, when this node is elected, asks leaders to hand over. */
  public void setHandoverRequests(HandoverRequests requests) {
    this.handoverRequests = java.util.Objects.requireNonNull(requests, "requests");
    Controller c = controller;
    if (c != null) {
      c.setHandoverRequests(requests);
    }
  }

  /** How this node, leading a shard, writes its in-sync set; available after {@link #start}. */
  public InSyncWriter inSyncWriter() {
    return new ZkInSyncWriter(zk, paths, nodeId);
  }

  /**
   * The admin API's view of move jobs in this cluster: any node creates and cancels jobs, the
   * controller runs them. Usable once {@link #start} has connected.
   */
  public dev.dedupe.server.moves.MoveAdmin moveAdmin() {
    return new ZkMoveAdmin(() -> zk, paths, config.effectiveMinInsyncReplicas(),
        java.time.InstantSource.system());
  }

  /**
   * The admin API's view of plans (drain, decommission, rebalance) in this cluster: any node
   * creates and cancels them, the controller runs them. Usable once {@link #start} connected.
   */
  public dev.dedupe.server.moves.PlanAdmin planAdmin() {
    return new ZkPlanAdmin(() -> zk, paths, java.time.InstantSource.system());
  }

  /**
   * Every shard's state as last read (leader, replicas, in-sync set, epoch), for the admin
   * view and the metrics; empty before the cluster formed.
   */
  public Map<Integer, ShardState> shardStates() {
    View v = view;
    return v == null || v.states() == null ? Map.of() : v.states().states();
  }

  /** The ZooKeeper client, for tests that inject faults. */
  public CuratorFramework zookeeper() {
    return zk;
  }

  /**
   * Connects, registers with the given addresses, joins the election and starts following the
   * shard states. Returns once connected and registered; shards open as their states arrive.
   */
  public void start(String grpcAddress, String opsAddress, String replicationAddress) {
    zk = CuratorFrameworkFactory.builder()
        .connectString(config.zk())
        .sessionTimeoutMs((int) config.sessionTimeout().toMillis())
        .connectionTimeoutMs((int) Math.min(15_000, config.sessionTimeout().toMillis()))
        .retryPolicy(new ExponentialBackoffRetry(100, 29, 5_000))
        .build();
    heartbeat = new SessionHeartbeat(zk, fence, config.sessionTimeout().toMillis(),
        System::nanoTime, "/", nodeId);
    zk.getConnectionStateListenable().addListener((client, state) -> onConnectionState(state));
    zk.start();
    heartbeat.start();
    try {
      if (!zk.blockUntilConnected((int) config.sessionTimeout().toSeconds(), TimeUnit.SECONDS)) {
        throw new ClusterException("cannot reach ZooKeeper at " + config.zk() + " within "
            + config.sessionTimeout().toSeconds() + " s", null);
      }
      ClusterState.ensureConfig(zk, paths, shards.shardCount());
      if (ClusterState.decommissionedNodes(zk, paths).contains(nodeId)) {
        throw new ClusterException("node " + nodeId + " was decommissioned from cluster "
            + config.name() + " and may not join again; start it with another"
            + " cluster.node-id and an empty data directory (or delete "
            + paths.decommissioned(nodeId) + " to bring this one back)", null);
      }
    } catch (ClusterException e) {
      throw e;
    } catch (Exception e) {
      throw new ClusterException("cannot join cluster " + config.name() + " at " + config.zk(), e);
    }
    membership = new Membership(zk, paths, nodeId, new NodeRegistration(
        grpcAddress, opsAddress, replicationAddress, config.zone(), Map.of()));
    membership.start(config.sessionTimeout().toMillis());
    controller = new Controller(zk, paths, nodeId, shards.shardCount(), config.initialNodes(),
        config.replicationFactor(), config.effectiveMinInsyncReplicas(),
        java.time.InstantSource.system());
    controller.setPositionProbe(positionProbe);
    controller.setHandoverRequests(handoverRequests);
    controller.setAutoLeaderBalance(config.autoLeaderBalance());
    controller.setReplaceDeadNodeAfter(config.replaceDeadNodeAfter());
    controller.start();
    shardsCache = CuratorCache.build(zk, paths.shards());
    shardsCache.listenable().addListener((type, oldData, data) -> scheduleRefresh());
    shardsCache.start();
    nodesCache = CuratorCache.build(zk, paths.nodes());
    // A node came, went or published its stores: addresses and readiness may change. (The
    // controller watches the nodes itself, for its elections.)
    nodesCache.listenable().addListener((type, oldData, data) -> scheduleRefresh());
    nodesCache.start();
    if (copyThrottle != null) {
      throttleWatch = new ZkThrottle(zk, paths, copyThrottle, nodeId);
      throttleWatch.start();
      copyPublisher = new CopyPublisher(zk, paths, copyProgress,
          java.time.InstantSource.system());
      copyPublisher.start();
    }
    // Data of shards no longer held here goes once its grace has passed; looked at between
    // re-reads too, since nothing else may happen in the cluster for the whole grace.
    long sweepMillis = Math.max(100, Math.min(config.removedReplicaGrace().toMillis() / 4, 30_000));
    events.scheduleWithFixedDelay(this::sweepRemoved, sweepMillis, sweepMillis,
        TimeUnit.MILLISECONDS);
    scheduleRefresh();
    log.info("node {} joined cluster {} at {}", nodeId, config.name(), config.zk());
  }

  private void onConnectionState(ConnectionState state) {
    switch (state) {
      case SUSPENDED, LOST -> {
        if (fence.disconnected()) {
          fences.incrementAndGet();
          log.warn("node {}: ZooKeeper connection {}; not serving any shard until reconnected",
              nodeId, state);
        }
      }
      case CONNECTED, RECONNECTED -> {
        fence.connected();
        // A heartbeat now, so that the lease is live by the time the re-read is done.
        heartbeat.beat();
        scheduleRefresh();
      }
      default -> { }
    }
  }

  private void scheduleRefresh() {
    scheduleRefresh(0);
  }

  /** Runs a re-read on the event thread after {@code delayMillis}, unless closing. */
  private void scheduleRefresh(long delayMillis) {
    if (closed) {
      return;
    }
    try {
      events.schedule(this::refresh, delayMillis, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      // close() shut the event thread down meanwhile: nothing left to re-read for.
    }
  }

  /**
   * Reads the shard states and the live nodes from ZooKeeper (not from a cache: after a
   * reconnect the read must be fresh), opens and closes shards to match, and marks the fence
   * caught up if no connection change happened since the read began.
   */
  private void refresh() {
    if (closed || zk == null || !zk.getZookeeperClient().isConnected()) {
      return;
    }
    // Taken before reading: the read counts only if the connection stays the same throughout.
    long epoch = fence.epoch();
    try {
      zk.sync().forPath(paths.root());
      Optional<ShardStates> states = ClusterState.readShardStates(zk, paths);
      Map<String, NodeRegistration> live = ClusterState.liveRegistrations(zk, paths);
      Map<String, String> addresses = new HashMap<>();
      Map<String, String> replicationAddresses = new HashMap<>();
      live.forEach((id, r) -> {
        addresses.put(id, r.grpc());
        replicationAddresses.put(id, r.replication());
      });
      if (states.isPresent()) {
        List<Integer> mine = states.get().replicaOf(nodeId);
        for (int s = 0; s < shards.shardCount(); s++) {
          if (!mine.contains(s) && shards.isOpen(s)) {
            log.info("node {}: shard {} has no replica here any more; closing it and keeping"
                + " its data for {} s (cluster.removed-replica-grace.seconds)", nodeId, s,
                config.removedReplicaGrace().toSeconds());
            shards.close(s);
          }
        }
        shards.open(mine);
        publishStores(states.get());
        deleteRemoved(mine);
      }
      View before = view;
      view = new View(states.orElse(null), addresses);
      boolean wasServing = fence.mayServe();
      if (fence.caughtUp(epoch) && !wasServing && states.isPresent()) {
        log.info("node {}: shard states read; leading shards {}, replica of {}", nodeId,
            states.get().ledBy(nodeId), states.get().replicaOf(nodeId));
      }
      if (before == null || !map(before).equals(map(view))) {
        mapListeners.forEach(Runnable::run);
      }
      if (states.isPresent()) {
        replicaRoles.update(states.get().byShard(), Map.copyOf(replicationAddresses));
      }
    } catch (Exception e) {
      if (closed) {
        // close() interrupted this re-read, or closed the shards under it: stopping, not news.
        log.debug("node {}: re-read stopped by close: {}", nodeId, e.toString());
        return;
      }
      log.warn("node {}: cannot read the cluster state ({}); will retry", nodeId, e.toString());
      scheduleRefresh(500);
    }
  }

  /** The periodic look at removed replicas' data, on the last read; event thread. */
  private void sweepRemoved() {
    View v = view;
    if (closed || v == null || v.states() == null || zk == null
        || !zk.getZookeeperClient().isConnected()) {
      return; // decide only on a cluster state read under a live connection
    }
    try {
      deleteRemoved(v.states().replicaOf(nodeId));
    } catch (RuntimeException e) {
      log.warn("node {}: cannot delete the data of removed replicas now: {}", nodeId,
          e.toString());
    }
  }

  /** Deletes the data of shards held here without a replica here whose grace has passed. */
  private void deleteRemoved(List<Integer> mine) {
    for (int s : removed.due(mine, shards.nodeStore()::holdsShard, shards.shardCount())) {
      if (shards.isOpen(s)) {
        continue; // reopened meanwhile: it is a replica here again
      }
      log.info("node {}: shard {} has had no replica here for {} s; deleting its data", nodeId,
          s, config.removedReplicaGrace().toSeconds());
      shards.nodeStore().deleteShard(s);
      removed.deleted(s);
    }
  }

  /** Reads the cluster state again soon (a replica saw something newer than it read). */
  public void refreshSoon() {
    scheduleRefresh();
  }

  /**
   * Tells the cluster which stores this node has open (every replica it holds), and logs each
   * shard whose data is lost here ({@link #lostHere}).
   */
  private void publishStores(ShardStates states) throws Exception {
    Map<Integer, String> open = new TreeMap<>();
    for (int s : states.replicaOf(nodeId)) {
      String store = shards.storeId(s);
      if (!store.isEmpty()) {
        open.put(s, store);
      }
      if (lostHere(states.state(s), store) && reportedLost.add(s)) {
        log.error("node {}: shard {} is LOST here: it is in sync with store {}, but this node"
            + " has store {} (created empty: its data directory was lost or replaced). Not"
            + " serving it. Restore the data, or, if no in-sync replica can return, make one"
            + " lead with what it holds: 'bin/dedupe admin elect-unclean --shard {} --node {}'",
            nodeId, s, states.state(s).isr().get(nodeId), store, s, nodeId);
      }
    }
    membership.publishStores(open);
  }

  /**
   * Whether the shard's data is lost here and nowhere else serves it: its data is missing
   * here, and it has no leader or this node is the leader. A follower whose store was replaced
   * while another replica leads is not lost, only out of sync: its leader rebuilds it.
   */
  private boolean lostHere(ShardState state, String open) {
    return dataMissing(state, open) && (!state.hasLeader() || state.isLeader(nodeId));
  }

  /** Whether the in-sync set names this node with a recorded store other than {@code open}. */
  private boolean dataMissing(ShardState state, String open) {
    String inSync = state.isr().get(nodeId);
    return inSync != null && !inSync.isEmpty() && !open.isEmpty() && !inSync.equals(open);
  }

  @Override
  public int shardCount() {
    return shards.shardCount();
  }

  @Override
  public ShardRoute route(int shard) {
    View v = view;
    if (v == null || v.states() == null) {
      return new ShardRoute.NotHere(new Unhandled("the cluster has not formed yet (waiting for "
          + config.initialNodes() + " nodes to register and " + config.replicationFactor()
          + " to be live)", null));
    }
    ShardState state = v.states().state(shard);
    ShardMap.Owner owner = owner(v, state);
    ServingFence.Standing standing = fence.standing();
    if (standing != ServingFence.Standing.SERVING && !servableWithoutZooKeeper(state)) {
      return new ShardRoute.NotHere(new Unhandled(notServingReason(standing), owner));
    }
    ShardWriter writer = shards.writer(shard);
    String open = writer == null ? "" : writer.storeId();
    if (!state.hasLeader()) {
      String missing = dataMissing(state, open) ? "; its data is missing on node " + nodeId
          + " (its store was replaced by an empty one)" : "";
      return new ShardRoute.NotHere(new Unhandled("shard " + shard + " has no leader: no"
          + " in-sync replica is live (last in sync: " + String.join(", ",
              state.isrInReplicaOrder()) + ")" + missing, owner));
    }
    if (!state.isLeader(nodeId)) {
      String where = owner.address().isEmpty() ? " (down now)" : " at " + owner.address();
      return new ShardRoute.NotHere(new Unhandled("shard " + shard + " is led by node "
          + state.leader() + where + ", epoch " + state.epoch(), owner));
    }
    if (writer == null) {
      return new ShardRoute.NotHere(new Unhandled(
          "shard " + shard + " is opening on node " + nodeId, owner));
    }
    String inSync = state.isr().getOrDefault(nodeId, "");
    if (inSync.isEmpty()) {
      return new ShardRoute.NotHere(new Unhandled("shard " + shard + " on node " + nodeId
          + " waits for the controller to record its store", owner));
    }
    if (!inSync.equals(open)) {
      return new ShardRoute.NotHere(new Unhandled("shard " + shard + "'s data is missing on node "
          + nodeId + " (its store was replaced by an empty one); it serves nothing until the"
          + " data is back or an admin elects a leader unclean", owner));
    }
    return new ShardRoute.Local(writer);
  }

  private String notServingReason(ServingFence.Standing standing) {
    return switch (standing) {
      case DISCONNECTED -> "node " + nodeId
          + " is cut off from ZooKeeper and serves nothing until it reconnects";
      case CATCHING_UP -> "node " + nodeId
          + " is re-reading the cluster state after connecting to ZooKeeper";
      case LEASE_EXPIRED -> "node " + nodeId + " has not heard from ZooKeeper within "
          + Math.round(ServingFence.LEASE_FRACTION * config.sessionTimeout().toMillis())
          + " ms and serves nothing until it does";
      case SERVING -> "node " + nodeId + " is serving";
    };
  }

  /**
   * A shard's entry in the map: its leader. A shard with no leader names its first in-sync
   * replica, the one that leads again when it returns, with no address: callers see it as
   * down, and cluster-wide stats count that node's data as missing rather than leave it out.
   */
  private static ShardMap.Owner owner(View v, ShardState s) {
    String node = s.hasLeader() ? s.leader()
        : s.isrInReplicaOrder().stream().findFirst().orElse("");
    String address = s.hasLeader() ? v.addresses().getOrDefault(node, "") : "";
    return new ShardMap.Owner(s.shard(), address, s.epoch(), node);
  }

  @Override
  public ShardMap map() {
    View v = view;
    return v == null ? map(new View(null, Map.of())) : map(v);
  }

  private ShardMap map(View v) {
    List<ShardMap.Owner> owners = new ArrayList<>();
    for (int s = 0; s < shards.shardCount(); s++) {
      owners.add(v.states() == null
          ? new ShardMap.Owner(s, "", 0, "")
          : owner(v, v.states().state(s)));
    }
    return new ShardMap(shards.shardCount(), ShardHash.NAME, owners);
  }

  @Override
  public AutoCloseable onMapChange(Runnable listener) {
    mapListeners.add(listener);
    return () -> mapListeners.remove(listener);
  }

  @Override
  public boolean isServing() {
    View v = view;
    if (v == null || v.states() == null) {
      return false;
    }
    ShardStates states = v.states();
    if (!fence.mayServe() && !states.ledBy(nodeId).stream()
        .allMatch(s -> servableWithoutZooKeeper(states.state(s)))) {
      // Cut off from ZooKeeper, ready only while every shard it leads is servable anyway.
      return false;
    }
    // Ready: every shard it leads is open on its in-sync store, no shard's data is missing, and
    // no leaderless shard waits for this node to be elected (it is in sync with what it has).
    boolean leading = states.ledBy(nodeId).stream().allMatch(s -> shards.isOpen(s)
        && states.state(s).isr().getOrDefault(nodeId, "").equals(shards.storeId(s)));
    boolean settled = states.replicaOf(nodeId).stream().noneMatch(s -> {
      ShardState state = states.state(s);
      return lostHere(state, shards.storeId(s)) || (!state.hasLeader() && state.inSync(nodeId));
    });
    return leading && settled && shards.isHealthy();
  }

  /**
   * The ZooKeeper-outage rule (docs/design.md, "Replication", "ZooKeeper outage"): a leader cut
   * off from ZooKeeper, or whose session lease ran out, keeps serving a shard whose in-sync set
   * it last read has another member. Safe because its rounds, reads included
   * ({@code ShardLog.readsNeedCommit}), are answered only once every in-sync member has
   * acknowledged them at its epoch, and any successor comes from that set and refuses. A shard
   * it leads alone is not served: nothing but the session would fence it.
   */
  private boolean servableWithoutZooKeeper(ShardState state) {
    return state.isLeader(nodeId) && state.isr().keySet().stream().anyMatch(m -> !m.equals(nodeId));
  }

  /**
   * Whether this node is fenced now (cut off from ZooKeeper, not yet caught up, or its lease
   * on the session ran out).
   */
  public boolean isFenced() {
    return !fence.mayServe();
  }

  /** How many times this node has stopped serving because its session was suspended or lost. */
  public long fenceCount() {
    return fences.get();
  }

  /**
   * The first step of a normal stop (docs/operations.md, "Rolling restart"): says in this
   * node's registration that it is stopping, so that the controller hands every shard it leads
   * to another in-sync replica (and elects it no more), then waits until it leads nothing, at
   * most {@code timeout}. A shard it leads as its only in-sync replica can be handed over
   * once a live follower catches up and joins, so it waits for that too; it stops waiting
   * early only when no shard it still leads has another live replica at all (a replication
   * factor of 1). It logs the shards it still leads when it gives up: those fail over as on
   * any stop, or stay offline until it is back if it was their only in-sync replica.
   */
  public void handOverLeaderships(Duration timeout) {
    if (closed || zk == null || membership == null || view == null || view.states() == null) {
      return;
    }
    if (!fence.mayServe()) {
      // Cut off from ZooKeeper: no controller can hear of the stop, and nothing may wait for
      // a connection on the way out (docs/design.md, "a node stops while ZooKeeper is down").
      log.info("node {}: stopping without handing leaderships over: not connected to"
          + " ZooKeeper", nodeId);
      return;
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      events.submit(() -> {
        membership.markStopping();
        return null;
      }).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } catch (Exception e) {
      log.warn("node {}: cannot say it is stopping ({}); stopping without handing its"
          + " leaderships over", nodeId, e.toString());
      return;
    }
    List<Integer> led = ledHere();
    if (!led.isEmpty()) {
      log.info("node {}: stopping; handing over the leadership of shards {} (waiting up to {} s)",
          nodeId, led, timeout.toSeconds());
    }
    while (!led.isEmpty() && System.nanoTime() - deadline < 0) {
      if (!fence.mayServe()) {
        log.warn("node {}: lost ZooKeeper while handing over shards {}; stopping", nodeId, led);
        return;
      }
      if (led.stream().noneMatch(this::anotherReplicaIsLive)) {
        log.warn("node {}: stopping while leading shards {}: no other replica of them is live,"
            + " so no one can take them over; they are unavailable until this node is back",
            nodeId, led);
        return;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      led = ledHere();
    }
    if (led.isEmpty()) {
      log.info("node {}: leads no shard any more; stopping", nodeId);
    } else {
      log.warn("node {}: still leads shards {} after {} s (cluster.shutdown-handover-timeout"
          + ".seconds); stopping anyway: they fail over to an in-sync replica as on a crash,"
          + " and a shard this node leads in sync alone is offline until it is back (in sync:"
          + " {})", nodeId, led, timeout.toSeconds(), led.stream()
              .collect(java.util.stream.Collectors.toMap(s -> s,
                  s -> view.states().state(s).isrInReplicaOrder())));
    }
  }

  private List<Integer> ledHere() {
    View v = view;
    return v == null || v.states() == null ? List.of() : v.states().ledBy(nodeId);
  }

  private boolean anotherReplicaIsLive(int shard) {
    View v = view;
    return v.states().state(shard).replicas().stream()
        .anyMatch(r -> !r.equals(nodeId) && v.addresses().containsKey(r));
  }

  @Override
  public void close() {
    closed = true;
    fence.disconnected();
    closeQuietly(heartbeat);
    closeQuietly(copyPublisher);
    closeQuietly(throttleWatch);
    closeQuietly(nodesCache);
    closeQuietly(shardsCache);
    closeQuietly(controller);
    closeQuietly(membership);
    events.shutdownNow();
    try {
      events.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeQuietly(zk);
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      log.debug("while leaving the cluster: {}", e.toString());
    }
  }
}
