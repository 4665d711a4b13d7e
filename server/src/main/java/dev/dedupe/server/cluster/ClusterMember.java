package dev.dedupe.server.cluster;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.ClusterConfig;
import dev.dedupe.server.core.ShardDirectory;
import dev.dedupe.server.core.ShardRoute;
import dev.dedupe.server.decision.ShardMap;
import dev.dedupe.server.decision.Unhandled;
import dev.dedupe.server.replication.ReplicaRoles;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.replication.VersionedShardState;
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
 * election, follows the shard assignment, opens the shards it owns and closes the ones it
 * loses, and tells the engine where every other shard lives.
 *
 * <p>Self-fencing ({@link ServingFence} holds the rule): a node answers for its shards only
 * while its ZooKeeper session is connected, it has read the assignment under that connection,
 * and its local lease on the session, renewed by {@link SessionHeartbeat}, has not run out.
 * On SUSPENDED or LOST it stops at once (every id of its shards is answered UNAVAILABLE). On
 * RECONNECTED it re-reads the assignment before it serves again, because the assignment may
 * have changed while it was cut off (Curator's advice: treat SUSPENDED as lost for anything
 * that fences). The lease covers what Curator cannot report in time: a node paused past its
 * session timeout.
 *
 * <p>Threads: Curator's event thread moves the fence; one event thread of our own reads
 * ZooKeeper and opens and closes shards; the heartbeat has its own timer; routing and the
 * shard writers read the fence and a volatile view from any thread.
 */
public final class ClusterMember implements ShardDirectory, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ClusterMember.class);

  /** What this node knows of the cluster: the assignment and the live nodes' addresses. */
  private record View(ShardAssignment assignment, Map<String, String> addresses) {}

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
  private CuratorFramework zk;
  private SessionHeartbeat heartbeat;
  private Membership membership;
  private Controller controller;
  private CuratorCache assignmentCache;
  private CuratorCache nodesCache;
  private volatile View view;
  /** Shards already logged as lost here; event thread only. */
  private final Set<Integer> reportedLost = new java.util.HashSet<>();
  /** How many times the node fenced itself after having served; for metrics and tests. */
  private final AtomicLong fences = new AtomicLong();

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

  /** The ZooKeeper client, for tests that inject faults. */
  public CuratorFramework zookeeper() {
    return zk;
  }

  /**
   * Connects, registers with the given addresses, joins the election and starts following the
   * assignment. Returns once connected and registered; shards open as the assignment arrives.
   */
  public void start(String grpcAddress, String opsAddress) {
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
    } catch (ClusterException e) {
      throw e;
    } catch (Exception e) {
      throw new ClusterException("cannot join cluster " + config.name() + " at " + config.zk(), e);
    }
    membership = new Membership(zk, paths, nodeId, grpcAddress, opsAddress);
    membership.start(config.sessionTimeout().toMillis());
    controller = new Controller(zk, paths, nodeId, shards.shardCount(), config.initialNodes());
    controller.start();
    assignmentCache = CuratorCache.build(zk, paths.assignment());
    assignmentCache.listenable().addListener((type, oldData, data) -> scheduleRefresh());
    assignmentCache.start();
    nodesCache = CuratorCache.build(zk, paths.nodes());
    nodesCache.listenable().addListener((type, oldData, data) -> {
      scheduleRefresh();
      // A node published its stores, or came or went: the controller may record stores.
      controller.nodesChanged();
    });
    nodesCache.start();
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
   * Reads the assignment and the live nodes from ZooKeeper (not from a cache: after a
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
      Optional<ShardAssignment> assignment = ClusterState.readAssignment(zk, paths);
      Map<String, String> addresses = readAddresses();
      if (assignment.isPresent()) {
        List<Integer> mine = assignment.get().ownedBy(nodeId);
        for (int s = 0; s < shards.shardCount(); s++) {
          if (!mine.contains(s) && shards.isOpen(s)) {
            log.info("node {}: shard {} is no longer mine; closing it", nodeId, s);
            shards.close(s);
          }
        }
        shards.open(mine);
        publishStores(assignment.get());
        replicaRoles.update(states(assignment.get()), addresses);
      }
      View before = view;
      view = new View(assignment.orElse(null), addresses);
      boolean wasServing = fence.mayServe();
      if (fence.caughtUp(epoch) && !wasServing && assignment.isPresent()) {
        log.info("node {}: assignment read; serving shards {}", nodeId,
            assignment.get().ownedBy(nodeId));
      }
      if (before == null || !map(before).equals(map(view))) {
        mapListeners.forEach(Runnable::run);
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

  /**
   * The assignment as replication states: each shard led by its owner, in sync alone (one
   * replica per shard until the assignment records replicas).
   */
  private static Map<Integer, VersionedShardState> states(ShardAssignment assignment) {
    Map<Integer, VersionedShardState> states = new HashMap<>();
    for (ShardAssignment.Entry e : assignment.shards()) {
      states.put(e.shard(), new VersionedShardState(new ShardState(e.shard(), List.of(e.owner()),
          e.owner(), e.epoch(), Map.of(e.owner(), e.storeId())), -1));
    }
    return states;
  }

  /** Who to tell every shard's state after each read (the replication runtime). */
  public void setReplicaRoles(ReplicaRoles roles) {
    this.replicaRoles = roles;
  }

  /** Reads the cluster state again soon (a replica saw something newer than it read). */
  public void refreshSoon() {
    scheduleRefresh();
  }

  private Map<String, String> readAddresses() throws Exception {
    Map<String, String> addresses = new HashMap<>();
    for (String id : ClusterState.liveNodes(zk, paths)) {
      ClusterState.readRegistration(zk, paths, id).ifPresent(r -> addresses.put(id, r.grpc()));
    }
    return addresses;
  }

  /**
   * Tells the cluster which stores this node has open, and logs each owned shard whose store
   * is not the one the assignment recorded: its data is missing here.
   */
  private void publishStores(ShardAssignment assignment) throws Exception {
    Map<Integer, String> open = new TreeMap<>();
    for (int s : assignment.ownedBy(nodeId)) {
      String store = shards.storeId(s);
      if (!store.isEmpty()) {
        open.put(s, store);
      }
      ShardAssignment.Entry entry = assignment.shard(s);
      if (entry.storeRecorded() && !store.isEmpty() && !entry.storeId().equals(store)
          && reportedLost.add(s)) {
        log.error("node {}: shard {} is LOST here: the cluster recorded store {} for it, but this"
            + " node has store {} (created empty: its data directory was lost or replaced)."
            + " Not serving it. Restore the data, or accept the loss with 'bin/dedupe admin"
            + " accept-data-loss --shard {}'", nodeId, s, entry.storeId(), store, s);
      }
    }
    membership.publishStores(open);
  }

  @Override
  public int shardCount() {
    return shards.shardCount();
  }

  @Override
  public ShardRoute route(int shard) {
    View v = view;
    if (v == null || v.assignment() == null) {
      return new ShardRoute.NotHere(new Unhandled(
          "the cluster has not formed yet (waiting for " + config.initialNodes() + " nodes)", null));
    }
    ShardAssignment.Entry entry = v.assignment().shard(shard);
    ShardMap.Owner owner = owner(v, entry);
    ServingFence.Standing standing = fence.standing();
    if (standing != ServingFence.Standing.SERVING) {
      return new ShardRoute.NotHere(new Unhandled(notServingReason(standing), owner));
    }
    if (!entry.owner().equals(nodeId)) {
      String where = owner.address().isEmpty() ? " (down now)" : " at " + owner.address();
      return new ShardRoute.NotHere(new Unhandled("shard " + shard + " is owned by node "
          + entry.owner() + where + ", epoch " + entry.epoch(), owner));
    }
    ShardWriter writer = shards.writer(shard);
    if (writer == null) {
      return new ShardRoute.NotHere(new Unhandled(
          "shard " + shard + " is opening on node " + nodeId, owner));
    }
    if (!entry.storeRecorded()) {
      return new ShardRoute.NotHere(new Unhandled("shard " + shard + " on node " + nodeId
          + " waits for the controller to record its store", owner));
    }
    if (!entry.storeId().equals(writer.storeId())) {
      return new ShardRoute.NotHere(new Unhandled("shard " + shard + "'s data is missing on node "
          + nodeId + " (its store was replaced by an empty one); it serves nothing until the"
          + " data is back or an admin accepts the loss", owner));
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

  private static ShardMap.Owner owner(View v, ShardAssignment.Entry e) {
    return new ShardMap.Owner(e.shard(), v.addresses().getOrDefault(e.owner(), ""), e.epoch(),
        e.owner());
  }

  @Override
  public ShardMap map() {
    View v = view;
    return v == null ? map(new View(null, Map.of())) : map(v);
  }

  private ShardMap map(View v) {
    List<ShardMap.Owner> owners = new ArrayList<>();
    for (int s = 0; s < shards.shardCount(); s++) {
      owners.add(v.assignment() == null
          ? new ShardMap.Owner(s, "", 0, "")
          : owner(v, v.assignment().shard(s)));
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
    if (!fence.mayServe() || v == null || v.assignment() == null) {
      return false;
    }
    return v.assignment().ownedBy(nodeId).stream().allMatch(s ->
        shards.isOpen(s) && v.assignment().shard(s).storeId().equals(shards.storeId(s)))
        && shards.isHealthy();
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

  @Override
  public void close() {
    closed = true;
    fence.disconnected();
    closeQuietly(heartbeat);
    closeQuietly(nodesCache);
    closeQuietly(assignmentCache);
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
