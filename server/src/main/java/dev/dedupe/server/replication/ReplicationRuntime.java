package dev.dedupe.server.replication;

import dev.dedupe.server.copy.CopyProgress;
import dev.dedupe.server.shard.ShardLog;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.shard.ShardWriter;
import com.google.common.util.concurrent.ListenableFuture;
import dev.dedupe.replica.v1.PositionRequest;
import dev.dedupe.replica.v1.PositionResponse;
import dev.dedupe.replica.v1.PrepareHandoverRequest;
import dev.dedupe.replica.v1.PrepareHandoverResponse;
import dev.dedupe.replica.v1.ReplicaServiceGrpc;
import dev.dedupe.server.storage.LogPosition;
import io.grpc.ManagedChannel;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replication of every shard replica on this node: one {@link ShardReplica} per shard, one
 * {@link PeerLink} per follower node, a timer for timeouts and in-sync changes, and the
 * shipping of snapshots. The cluster member tells it every shard's state after each read of
 * ZooKeeper ({@link #update}); a standalone node makes every shard lead alone.
 *
 * <p>Threads: a timer thread (every {@link #TICK_MILLIS}); the in-sync writes to ZooKeeper on
 * one thread of their own, so a slow ZooKeeper never stalls a timer pass; virtual threads for
 * sending and for snapshots.
 */
public final class ReplicationRuntime implements ReplicaRoles, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ReplicationRuntime.class);
  static final long TICK_MILLIS = 50;
  /** How long an election waits for a candidate to tell its position. */
  static final long POSITION_DEADLINE_MILLIS = 1_000;

  private final String self;
  private final ReplicationSettings settings;
  private final BooleanSupplier sessionLease;
  private final LongSupplier nanos;
  private final Map<Integer, ShardReplica> replicas = new ConcurrentHashMap<>();
  private final Map<String, PeerLink> links = new ConcurrentHashMap<>();
  private final Map<String, String> addresses = new ConcurrentHashMap<>();
  private final Function<String, ManagedChannel> channels;
  private final ScheduledExecutorService timer;
  private final ExecutorService inSyncWrites;
  private final ExecutorService tasks = Executors.newVirtualThreadPerTaskExecutor();
  private volatile ShardSet shards;
  private volatile InSyncWriter inSyncWriter;
  private volatile IntConsumer refresh = shard -> { };
  private volatile SnapshotShipping shipper;
  private volatile CopyTracker copies;
  private volatile boolean closed;

  /**
   * @param sessionLease whether this node's ZooKeeper session lease is live (always, when
   *     standalone): a leader in sync alone commits only while it is
   * @param channels the channel to a peer's gRPC address (host:port)
   */
  public ReplicationRuntime(String self, ReplicationSettings settings,
      BooleanSupplier sessionLease, Function<String, ManagedChannel> channels,
      LongSupplier nanos) {
    this.self = self;
    this.settings = settings;
    this.sessionLease = sessionLease;
    this.channels = channels;
    this.nanos = nanos;
    this.timer = Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name("replication-timer").daemon(true).factory());
    this.inSyncWrites = Executors.newSingleThreadExecutor(
        Thread.ofPlatform().name("replication-isr").daemon(true).factory());
  }

  /** The logs the node's shard set gives its writers; call before the set opens any shard. */
  public IntFunction<ShardLog> logs() {
    return this::replica;
  }

  /**
   * Starts the timer. {@code shards} is the node's shard set (whose writers run the replicas'
   * store work); {@code inSync} writes in-sync changes (null for a standalone node).
   */
  public void start(ShardSet shardSet, InSyncWriter inSync, SnapshotShipping snapshots,
      CopyTracker tracker) {
    this.shards = shardSet;
    this.inSyncWriter = inSync;
    this.shipper = snapshots;
    this.copies = tracker;
    timer.scheduleWithFixedDelay(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
  }

  /**
   * A shard's store was replaced (a snapshot install): its new identity must be published, so
   * the cluster member reads and publishes again.
   */
  void storesChanged(int shard) {
    refresh.accept(shard);
  }

  /** How to ask the cluster member for a fresh read of a shard's state. */
  public void onRefreshNeeded(IntConsumer refreshNeeded) {
    this.refresh = refreshNeeded;
  }

  /** The replica of {@code shard} on this node (made on first use). */
  public ShardReplica replica(int shard) {
    return replicas.computeIfAbsent(shard, s -> new ShardReplica(s, self, settings, nanos,
        sessionLease, listener, () -> shards == null ? null : shards.writer(s), false));
  }

  /** The replicas on this node now. */
  public Collection<ShardReplica> replicas() {
    return replicas.values();
  }

  @Override
  public void update(Map<Integer, VersionedShardState> states, Map<String, String> live) {
    addresses.keySet().retainAll(live.keySet());
    addresses.putAll(live);
    for (Map.Entry<Integer, VersionedShardState> e : states.entrySet()) {
      ShardState s = e.getValue().state();
      ShardReplica r = replicas.get(e.getKey());
      if (!s.replicas().contains(self)) {
        if (r != null) {
          r.closed();
        }
        continue;
      }
      if (shards == null || shards.writer(e.getKey()) == null) {
        continue; // not open here yet; the next update, after it opens, will carry it
      }
      replica(e.getKey()).update(e.getValue());
    }
    links.values().forEach(PeerLink::wake);
  }

  private final ShardReplica.Listener listener = new ShardReplica.Listener() {
    @Override
    public void entriesFor(ShardReplica replica, List<String> followers) {
      for (String f : followers) {
        link(f).wake();
      }
    }

    @Override
    public void snapshotNeeded(ShardReplica replica, String follower) {
      SnapshotShipping ship = shipper;
      if (ship == null || closed) {
        replica.snapshotDone(follower, -1, null, null);
        return;
      }
      tasks.execute(() -> ship.ship(replica, follower, addresses.get(follower)));
    }

    @Override
    public void refreshNeeded(int shard) {
      refresh.accept(shard);
    }
  };

  private PeerLink link(String follower) {
    return links.computeIfAbsent(follower, f -> new PeerLink(self, f, () -> {
      String address = addresses.get(f);
      return address == null || closed ? null : channels.apply(address);
    }, this::replicas, tasks));
  }

  private void tick() {
    if (closed) {
      return;
    }
    try {
      for (ShardReplica r : replicas.values()) {
        ShardReplica.InSyncProposal p = r.tick();
        if (p != null) {
          writeInSync(r, p);
        }
      }
      links.values().forEach(PeerLink::wake);
      SnapshotShipping ship = shipper;
      if (ship != null) {
        ship.expire(replicas::get);
      }
    } catch (RuntimeException e) {
      log.error("replication timer pass failed", e);
    }
  }

  private void writeInSync(ShardReplica r, ShardReplica.InSyncProposal p) {
    InSyncWriter writer = inSyncWriter;
    if (writer == null) {
      r.inSyncWritten(Optional.empty(), true);
      return;
    }
    inSyncWrites.execute(() -> {
      try {
        if (p.resume()) {
          log.info("shard {}: {}: writing its state again at version {}", r.shard(), p.why(),
              p.read().version());
        } else {
          log.info("shard {}: changing the in-sync set to {}: {}", r.shard(),
              p.inSync().keySet(), p.why());
        }
        r.inSyncWritten(writer.changeInSync(p.read(), p.inSync()), false);
      } catch (Exception e) {
        log.warn("shard {}: cannot write the in-sync set ({}); the leader keeps waiting for its"
            + " members", r.shard(), e.toString());
        r.inSyncWritten(Optional.empty(), true);
      }
    });
  }

  /**
   * Asks each of {@code nodes} for its replica's log position of {@code shard}, in parallel,
   * waiting at most {@link #POSITION_DEADLINE_MILLIS}: what the controller uses to prefer the
   * most advanced in-sync replica in an election. Nodes that do not answer in time, hold no
   * replica, or whose store is not {@code stores}' one for them, are left out; the caller
   * treats them as lowest, which is safe since every candidate is in sync.
   *
   * @param stores node to the store id it is in sync with
   */
  public Map<String, LogPosition> positions(int shard, Map<String, String> stores) {
    Map<String, ListenableFuture<PositionResponse>> asked = new HashMap<>();
    for (String node : stores.keySet()) {
      String address = addresses.get(node);
      ManagedChannel ch = address == null || address.isEmpty() || closed ? null
          : channels.apply(address);
      if (ch != null) {
        asked.put(node, ReplicaServiceGrpc.newFutureStub(ch)
            .withDeadlineAfter(POSITION_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
            .position(PositionRequest.newBuilder().setShard(shard).build()));
      }
    }
    Map<String, LogPosition> positions = new HashMap<>();
    asked.forEach((node, answer) -> {
      try {
        PositionResponse r = answer.get();
        if (r.getHeld() && r.getStoreId().equals(stores.get(node))) {
          positions.put(node, PeerLink.fromProto(r.getPosition()));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (java.util.concurrent.ExecutionException e) {
        log.info("shard {}: {} did not tell its position: {}", shard, node, e.getCause().toString());
      }
    });
    return positions;
  }

  /**
   * Asks {@code leader} to hand its leadership of {@code shard} at {@code epoch} over to
   * {@code to} (the controller's side of {@link LeaderHandover}). Never blocks: the answer
   * completes the future, which fails if the leader refuses, cannot be reached, or is not
   * ready within {@code wait}.
   *
   * @param lease how long the leader stays paused at most if no new leader is written
   */
  public java.util.concurrent.CompletableFuture<LeaderHandover.Ready> prepareHandover(
      String leader, int shard, long epoch, String to, java.time.Duration wait,
      java.time.Duration lease) {
    var answer = new java.util.concurrent.CompletableFuture<LeaderHandover.Ready>();
    String address = addresses.get(leader);
    ManagedChannel ch = address == null || address.isEmpty() || closed ? null
        : channels.apply(address);
    if (ch == null) {
      answer.completeExceptionally(new IllegalStateException(
          "shard " + shard + ": leader " + leader + " has no replication address now"));
      return answer;
    }
    ListenableFuture<PrepareHandoverResponse> call = ReplicaServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(wait.toMillis(), TimeUnit.MILLISECONDS)
        .prepareHandover(PrepareHandoverRequest.newBuilder().setShard(shard).setEpoch(epoch)
            .setTo(to).setLeaseMillis(lease.toMillis()).build());
    call.addListener(() -> {
      try {
        PrepareHandoverResponse r = call.get();
        if (r.getReady()) {
          answer.complete(new LeaderHandover.Ready(
              epoch, PeerLink.fromProto(r.getEnd()), r.getZnodeVersion()));
        } else {
          answer.completeExceptionally(new IllegalStateException(
              "shard " + shard + ": leader " + leader + " refused the handover: " + r.getDetail()));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        answer.completeExceptionally(e);
      } catch (java.util.concurrent.ExecutionException e) {
        answer.completeExceptionally(new IllegalStateException("shard " + shard + ": leader "
            + leader + " did not get ready to hand over: " + e.getCause(), e.getCause()));
      }
    }, Runnable::run);
    return answer;
  }

  /**
   * In-sync members a shard needs to commit an entry ({@code cluster.min-insync-replicas},
   * capped at the replication factor).
   */
  public int minInSync() {
    return settings.minInSync();
  }

  /** Under-replicated shards this node leads: in sync with fewer than all replicas. */
  public List<Integer> underReplicatedLed() {
    List<Integer> out = new ArrayList<>();
    for (ShardReplica r : replicas.values()) {
      if (r.role() == ShardReplica.Role.LEADER) {
        r.state().ifPresent(s -> {
          if (s.state().isr().size() < s.state().replicas().size()) {
            out.add(r.shard());
          }
        });
      }
    }
    return out;
  }

  /**
   * Every copy this node makes as a leader now: each follower of a shard it leads that is
   * outside the in-sync set or being sent a snapshot, with the snapshot's progress (when one
   * ran under this leadership) and the follower's lag. What the cluster member publishes for
   * {@code admin moves}.
   */
  public List<CopyProgress> copies(long nowMillis) {
    CopyTracker tracker = copies;
    List<CopyProgress> out = new ArrayList<>();
    java.util.Set<String> current = new java.util.HashSet<>();
    for (ShardReplica r : replicas.values()) {
      for (Map.Entry<String, Long> f : r.catchingUp().entrySet()) {
        current.add(CopyTracker.pair(r.shard(), f.getKey()));
        Optional<CopyTracker.View> v = tracker == null ? Optional.empty()
            : tracker.view(r.shard(), f.getKey());
        out.add(new CopyProgress(r.shard(), f.getKey(), self,
            v.map(CopyTracker.View::snapshotting).orElse(false),
            v.map(CopyTracker.View::bytesCopied).orElse(-1L),
            v.map(CopyTracker.View::bytesTotal).orElse(-1L),
            v.map(CopyTracker.View::totalEstimated).orElse(false),
            v.map(CopyTracker.View::bytesPerSecond).orElse(0L),
            f.getValue(), nowMillis));
      }
    }
    if (tracker != null) {
      tracker.retain(current);
    }
    return out;
  }

  // ------------------------------------------------------- figures for the node's metrics

  /** Changes of the in-sync sets of shards led here that removed a member, since the start. */
  public long inSyncShrinks() {
    return replicas.values().stream().mapToLong(ShardReplica::inSyncShrinks).sum();
  }

  /** Changes of the in-sync sets of shards led here that added a member, since the start. */
  public long inSyncExpands() {
    return replicas.values().stream().mapToLong(ShardReplica::inSyncExpands).sum();
  }

  @Override
  public void close() {
    closed = true;
    timer.shutdownNow();
    inSyncWrites.shutdownNow();
    replicas.values().forEach(ShardReplica::closed);
    tasks.shutdownNow();
    SnapshotShipping ship = shipper;
    if (ship != null) {
      ship.close(); // kept copies hold RocksDB snapshots: gone before the stores close
    }
  }
}
