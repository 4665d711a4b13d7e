package dev.dedupe.server;

import dev.dedupe.server.config.ServerConfig;
import dev.dedupe.server.core.DedupeEngine;
import dev.dedupe.server.cluster.ClusterMember;
import dev.dedupe.server.cluster.ServingFence;
import dev.dedupe.server.core.ShardDirectory;
import dev.dedupe.server.core.StandaloneDirectory;
import dev.dedupe.server.ops.OpsServer;
import dev.dedupe.server.ops.ServerMetrics;
import dev.dedupe.server.rpc.AdminGrpcService;
import dev.dedupe.server.rpc.ClusterStats;
import dev.dedupe.server.rpc.DedupeGrpcService;
import dev.dedupe.server.rpc.Forwarder;
import dev.dedupe.server.rpc.GrpcServer;
import dev.dedupe.server.rpc.PeerChannels;
import dev.dedupe.server.rpc.RequestValidator;
import dev.dedupe.server.config.ClusterConfig;
import dev.dedupe.server.replication.ReplicaEndpoint;
import dev.dedupe.server.replication.ReplicationRuntime;
import dev.dedupe.server.replication.ReplicationServer;
import dev.dedupe.server.replication.SnapshotInstalls;
import dev.dedupe.server.replication.ReplicationSettings;
import dev.dedupe.server.replication.ShardReplica;
import dev.dedupe.server.replication.SnapshotShipping;
import dev.dedupe.server.replication.CopyTracker;
import dev.dedupe.server.copy.CopyThrottle;
import dev.dedupe.server.shard.Retention;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.DataDirectory;
import dev.dedupe.server.storage.NodeStore;
import dev.dedupe.server.storage.ShardStore;
import dev.dedupe.server.storage.StorageResources;
import io.grpc.ServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running dedupe node: shard stores, their writers, age-out, the gRPC API and the ops port,
 * started in dependency order and stopped in reverse.
 */
public final class DedupeNode implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(DedupeNode.class);

  private enum State { STARTING, SERVING, STOPPING, CLOSED }

  private final AtomicReference<State> state = new AtomicReference<>(State.STARTING);
  /** What to close, most recently opened first. */
  private final Deque<AutoCloseable> closers = new ArrayDeque<>();
  private final ServerConfig config;
  private DataDirectory directory;
  private ShardSet shards;
  private ShardDirectory shardDirectory;
  private ClusterMember member;
  private Retention retention;
  private ServerMetrics metrics;
  private GrpcServer grpc;
  private OpsServer ops;
  private ScheduledExecutorService maintenance;
  /** How often the gRPC health status is set from readiness. */
  private static final java.time.Duration HEALTH_REFRESH = java.time.Duration.ofSeconds(1);
  private ScheduledExecutorService healthFollower;
  private ReplicationRuntime replication;
  private ReplicationServer replicationServer;
  private CopyThrottle copyThrottle;
  private CopyTracker copies;

  private DedupeNode(ServerConfig config) {
    this.config = config;
  }

  /** Starts a node that listens on the configured gRPC address with Netty. */
  public static DedupeNode start(ServerConfig config, InstantSource clock) {
    InetSocketAddress address = new InetSocketAddress(config.grpc().host(), config.grpc().port());
    return start(config, clock, NettyServerBuilder.forAddress(address));
  }

  /**
   * Starts a node whose API is served by {@code grpcBuilder} (tests pass an in-process builder).
   */
  public static DedupeNode start(ServerConfig config, InstantSource clock, ServerBuilder<?> grpcBuilder) {
    DedupeNode node = new DedupeNode(config);
    try {
      node.open(clock, grpcBuilder);
      return node;
    } catch (RuntimeException e) {
      node.close();
      node.removeDataCreatedByAFailedStart();
      throw e;
    }
  }

  /**
   * A start that failed (a taken port, say) leaves no data directory behind if it created the
   * directory itself and never served: otherwise a typo in a flag would leave stray
   * directories. Never after the API started: ids may have been acknowledged.
   */
  private void removeDataCreatedByAFailedStart() {
    if (directory == null || !directory.createdNow() || grpc != null) {
      return;
    }
    try (java.util.stream.Stream<java.nio.file.Path> all = Files.walk(directory.root())) {
      for (java.nio.file.Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      log.warn("could not remove {} after a failed start: {}", directory.root(), e.toString());
    }
  }

  private void open(InstantSource clock, ServerBuilder<?> grpcBuilder) {
    directory = DataDirectory.openOrCreate(config.storage().dataDir(), config.storage().shards());
    // Released last (closers run in reverse), after every store in it has closed.
    closers.push(directory.lock());
    StorageResources resources = new StorageResources(config.storage());
    closers.push(resources);
    // One database for every shard; closed after the shards (closers run in reverse).
    NodeStore nodeStore = NodeStore.open(directory, resources);
    closers.push(nodeStore);
    BucketGrid grid = new BucketGrid(config.storage().bucketWidth());
    // Replication, forwarding and cluster-wide stats share one channel per peer; closed after
    // the API and the replication runtime have stopped (closers run in reverse).
    PeerChannels peers = new PeerChannels(
        address -> NettyChannelBuilder.forTarget(address).usePlaintext().directExecutor().build());
    closers.push(peers);
    if (config.cluster().enabled()) {
      // A member opens the shards the assignment gives it, once it has joined.
      ServingFence fence = new ServingFence(System::nanoTime);
      String nodeId = ClusterMember.nodeIdOf(config.cluster(), directory);
      replication = new ReplicationRuntime(nodeId, replicationSettings(config.cluster()),
          fence::mayServe, peers::channel, System::nanoTime);
      // One budget for every snapshot this node sends, set from the cluster's throttle znode.
      copyThrottle = new CopyThrottle(System::nanoTime);
      copies = new CopyTracker(System::nanoTime);
      shards = new ShardSet(nodeStore, grid, clock, replication.logs());
      closers.push(shards);
      // Closed before the shards: no append or snapshot is in flight when their stores close.
      closers.push(replication);
      ReplicaEndpoint endpoint = new ReplicaEndpoint(replication, shards,
          new SnapshotInstalls(replication, shards, copies));
      // Its syncs stop after the listener and before the shards (closers run in reverse).
      closers.push(endpoint);
      replicationServer = ReplicationServer.start(config.grpc().host(),
          config.cluster().replicationPort(), endpoint);
      // Stops before the runtime (closers run in reverse): no append arrives at a closed one.
      closers.push(replicationServer);
      ClusterMember joining = new ClusterMember(config.cluster(), directory, shards, fence);
      member = joining;
      member.setReplicaRoles(replication);
      member.setPositionProbe(replication::positions);
      member.setCopies(copyThrottle, replication::copies);
      ReplicationRuntime runtime = replication;
      // The controller waits as long for a leader to get ready as a round waits for its commit;
      // the leader's pause is bounded by the same lease (docs/design.md, "Leadership handover").
      java.time.Duration handoverLease = config.cluster().replicationTimeout();
      member.setHandoverRequests((leader, shard, epoch, to) -> runtime.prepareHandover(
          leader, shard, epoch, to, handoverLease.plusSeconds(1), handoverLease));
      replication.onRefreshNeeded(shard -> joining.refreshSoon());
      // The member's ZooKeeper client exists once it has started; in-sync writes come later.
      replication.start(shards, (read, inSync) -> joining.inSyncWriter().changeInSync(read, inSync),
          new SnapshotShipping(nodeId, shards, peers::channel, copyThrottle, copies,
              System::nanoTime), copies);
      shardDirectory = member;
    } else {
      // The same write path as a replicated shard's, with the leader alone and no followers.
      shards = ShardSet.openAll(nodeStore, grid, clock, ShardReplica::alone);
      closers.push(shards);
      shardDirectory = new StandaloneDirectory(shards, this::advertisedAddress);
    }

    retention = new Retention(shards, config.windows(), diskBudget(directory), clock);
    retention.runOnce();
    // The node's own registry, not a JVM-wide one: nodes sharing a JVM (dev --nodes 3, tests)
    // each report their own figures, as one node per process would.
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    closers.push(registry::close);
    metrics = new ServerMetrics(registry, retention, config.windows(), shards, resources);
    closers.push(metrics);
    if (replication != null) {
      // The controller exists once the member has started; until then it has elected no one.
      metrics.bindReplication(replication, () -> member.controller() == null ? 0
          : member.controller().electionCount());
      metrics.bindCopies(copies, copyThrottle, () -> member.controller() == null ? 0
          : member.controller().movesRunning());
    }
    metrics.registerNamespaces();

    ExecutorService replies = Executors.newVirtualThreadPerTaskExecutor();
    closers.push(replies::shutdown);
    DedupeEngine engine = new DedupeEngine(shardDirectory, shards, config.windows(), clock);
    ClusterStats stats = new ClusterStats(engine, shardDirectory,
        member == null ? "" : member.nodeId(), this::advertisedAddress, peers);
    Forwarder forwarder = new Forwarder(
        shardDirectory, member == null ? "" : member.nodeId(), peers, metrics);
    DedupeGrpcService service = new DedupeGrpcService(engine, new RequestValidator(config.limits()),
        metrics, replies, shardDirectory, stats, forwarder);

    // The ops port binds before the API, so that a taken port fails the start before any
    // call could have been answered.
    ops = new OpsServer(config.ops(), this::isLive, this::isReady, registry);
    closers.push(ops);

    // A standalone node serves it too, to answer FAILED_PRECONDITION with why.
    AdminGrpcService admin = new AdminGrpcService(
        () -> java.util.Optional.ofNullable(member).map(ClusterMember::moveAdmin),
        () -> java.util.Optional.ofNullable(member).map(ClusterMember::planAdmin), replies);
    GrpcServer api = new GrpcServer(grpcBuilder, service, admin, config.limits().maxRequestBytes());
    api.start();
    grpc = api;
    closers.push(grpc);

    maintenance = Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name("maintenance").daemon(true).factory());
    closers.push(() -> {
      maintenance.shutdownNow();
      maintenance.awaitTermination(30, TimeUnit.SECONDS);
    });
    long every = config.storage().maintenanceInterval().toMillis();
    maintenance.scheduleWithFixedDelay(this::maintain, every, every, TimeUnit.MILLISECONDS);

    if (member != null) {
      // Closed before the shards (closers run in reverse): stop serving, then close stores.
      closers.push(member);
      member.start(advertisedAddress(), opsAddress(), replicationAddress());
    }

    state.set(State.SERVING);
    // The standard health service follows readiness (what /health/ready says), so that a gRPC
    // readiness probe keeps traffic from a node that cannot serve yet (a cluster still
    // forming) and lets it in about a second after it can; the maintenance pass is too rare.
    grpc.setServing(isReady());
    healthFollower = Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name("grpc-health").daemon(true).factory());
    closers.push(healthFollower::shutdownNow);
    healthFollower.scheduleWithFixedDelay(() -> grpc.setServing(isReady()),
        HEALTH_REFRESH.toMillis(), HEALTH_REFRESH.toMillis(), TimeUnit.MILLISECONDS);
    log.info("dedupe node serving: gRPC on port {}, ops on port {}, {} shards in {}, durability {}{}",
        grpc.port(), ops.port(), shards.shardCount(), directory.root().toAbsolutePath(),
        config.storage().durability().configName(),
        member == null ? ", standalone"
            : ", node " + member.nodeId() + " of cluster " + config.cluster().name());
  }

  /** How this node replicates its shards, from {@code cluster.*}. */
  private static ReplicationSettings replicationSettings(ClusterConfig cluster) {
    return new ReplicationSettings(cluster.effectiveMinInsyncReplicas(), cluster.replicaLagMax(),
        cluster.replicationTimeout(), ReplicationSettings.DEFAULT_TAIL_BYTES);
  }

  private long diskBudget(DataDirectory directory) {
    long configured = config.storage().diskBudgetBytes();
    if (configured > 0) {
      return configured;
    }
    try {
      FileStore store = Files.getFileStore(directory.root());
      long held = shards.onEveryShard(ShardStore::diskBytes).stream().mapToLong(Long::longValue).sum()
          + shards.sharedDiskBytes();
      long budget = (long) ((store.getUsableSpace() + held) * 0.8);
      log.info("storage.disk-budget.bytes is 0: using 80% of free plus held space, {} bytes", budget);
      return budget;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read free space of " + directory.root(), e);
    }
  }

  private void maintain() {
    try {
      retention.runOnce();
      metrics.registerNamespaces();
    } catch (RuntimeException e) {
      log.error("maintenance pass failed; will retry", e);
    }
  }

  /** Whether the process can still do its work (the ops port's liveness). */
  public boolean isLive() {
    return state.get() != State.CLOSED;
  }

  /** Whether the node should receive traffic now (the ops port's readiness). */
  public boolean isReady() {
    return state.get() == State.SERVING && shardDirectory.isServing();
  }

  /** The cluster membership of this node, or null for a standalone node. */
  public ClusterMember clusterMember() {
    return member;
  }

  /** What this node's snapshot copies did (a cluster member's; null when standalone). */
  public CopyTracker copies() {
    return copies;
  }

  /** The copy throttle in force on this node (a cluster member's; null when standalone). */
  public CopyThrottle copyThrottle() {
    return copyThrottle;
  }

  /** The shards open on this node. */
  public ShardSet shards() {
    return shards;
  }

  /**
   * host:port where peers reach this node's replication listener: {@code
   * cluster.replication-advertised-address}, else the host clients are given for the API and
   * the listener's own port.
   */
  private String replicationAddress() {
    if (!config.cluster().replicationAdvertisedAddress().isEmpty()) {
      return config.cluster().replicationAdvertisedAddress();
    }
    String api = advertisedAddress();
    String host = api.substring(0, api.lastIndexOf(':'));
    return host + ":" + replicationServer.port();
  }

  private String opsAddress() {
    return hostFor(config.ops().host()) + ":" + ops.port();
  }

  /** host:port that clients should use for this node's API. */
  public String advertisedAddress() {
    if (!config.advertisedAddress().isEmpty()) {
      return config.advertisedAddress();
    }
    return hostFor(config.grpc().host()) + ":" + grpc.port();
  }

  private static String hostFor(String bound) {
    if (bound.equals("0.0.0.0") || bound.equals("::")) {
      try {
        return java.net.InetAddress.getLocalHost().getCanonicalHostName();
      } catch (java.net.UnknownHostException e) {
        return "localhost";
      }
    }
    return bound;
  }

  public int grpcPort() {
    return grpc.port();
  }

  public int opsPort() {
    return ops.port();
  }

  public ServerConfig config() {
    return config;
  }

  /** Age-out and figures, now rather than at the next maintenance interval (for tests and tools). */
  public void runMaintenance() {
    maintain();
  }

  /**
   * Stops taking calls, lets calls in flight finish, stops each shard after its queue is done
   * and its WAL synced, then releases native resources. Safe to call twice. A cluster member
   * that was serving first hands the leadership of its shards to other in-sync replicas (at
   * most {@code cluster.shutdown-handover-timeout.seconds}), so that a rolling restart costs
   * callers no error; readiness is DOWN meanwhile.
   */
  @Override
  public void close() {
    State previous = state.getAndSet(State.STOPPING);
    if (previous == State.STOPPING || previous == State.CLOSED) {
      return;
    }
    if (member != null && previous == State.SERVING
        && !config.cluster().shutdownHandoverTimeout().isZero()) {
      member.handOverLeaderships(config.cluster().shutdownHandoverTimeout());
    }
    if (grpc != null) {
      grpc.setServing(false);
    }
    while (!closers.isEmpty()) {
      AutoCloseable c = closers.pop();
      try {
        c.close();
      } catch (Exception e) {
        log.warn("while stopping: {}", e.toString());
      }
    }
    state.set(State.CLOSED);
    log.info("dedupe node stopped");
  }
}
