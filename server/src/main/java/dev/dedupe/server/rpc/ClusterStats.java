package dev.dedupe.server.rpc;

import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import dev.dedupe.server.core.DedupeEngine;
import dev.dedupe.server.core.NamespaceStats;
import dev.dedupe.server.core.ShardDirectory;
import dev.dedupe.server.decision.ShardMap;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.GetNamespaceStatsRequest;
import dev.dedupe.v1.GetNamespaceStatsResponse;
import dev.dedupe.v1.NodeNamespaceStats;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * GetNamespaceStats for the whole cluster: this node's own figures, plus those of every other
 * node that the shard map names as an owner, asked in parallel with {@code this_node_only}
 * (so that a peer answers for itself and never asks on: no recursion). A node that cannot be
 * asked (not registered, or no answer within the deadline) gets an entry with an error and is
 * left out of the totals. {@link #totals} holds the rule for adding nodes up.
 *
 * <p>Only owners are asked: shards hold the data, and a node that owns none holds nothing. A
 * peer still on v1.2 ignores {@code this_node_only}, but it answers for itself anyway, so its
 * top-level figures are read, never its {@code nodes}.
 *
 * <p>Peers are asked on the node's shared {@link PeerChannels}: stats calls are rare, but people
 * and dashboards repeat them.
 */
public final class ClusterStats {

  /**
   * How long a peer has to answer. Its answer is a read of counters on each of its shards
   * (milliseconds); much longer means it is down or stuck, and the caller would rather have
   * a partial answer that names it than wait.
   */
  public static final Duration PEER_DEADLINE = Duration.ofSeconds(2);

  private final DedupeEngine engine;
  private final ShardDirectory shards;
  private final String selfNodeId;
  private final Supplier<String> selfAddress;
  private final PeerChannels channels;

  /**
   * @param selfNodeId this node's id in the cluster, or "" for a standalone node
   * @param selfAddress this node's advertised host:port, known once the API is bound
   * @param channels the channels to other nodes
   */
  public ClusterStats(DedupeEngine engine, ShardDirectory shards, String selfNodeId,
      Supplier<String> selfAddress, PeerChannels channels) {
    this.engine = engine;
    this.shards = shards;
    this.selfNodeId = selfNodeId;
    this.selfAddress = selfAddress;
    this.channels = channels;
  }

  /**
   * The namespace's figures: cluster totals and one entry per node, or this node's alone when
   * {@code thisNodeOnly}. Call it on the gRPC thread of the incoming call, after validation:
   * peer calls take that call's deadline into account and are cancelled with it.
   */
  public CompletableFuture<GetNamespaceStatsResponse> stats(String namespace, boolean thisNodeOnly) {
    CompletableFuture<NamespaceStats> own = engine.stats(namespace);
    List<CompletableFuture<NodeNamespaceStats>> entries = new ArrayList<>();
    entries.add(own.thenApply(this::self));
    if (!thisNodeOnly) {
      long deadlineMillis = peerDeadlineMillis();
      peers().forEach((nodeId, peer) -> entries.add(ask(namespace, nodeId, peer, deadlineMillis)));
    }
    // Peer futures never fail (a failure becomes an entry's error); this node's own may, and
    // then the call fails as it did before clusters.
    return CompletableFuture.allOf(entries.toArray(CompletableFuture[]::new))
        .thenApply(done -> totals(namespace, own.join().window(),
            entries.stream().map(CompletableFuture::join).toList()));
  }

  /** The other owners in the shard map, by node id: their address and shards. */
  private Map<String, Peer> peers() {
    Map<String, Peer> peers = new TreeMap<>();
    for (ShardMap.Owner owner : shards.map().owners()) {
      // "" is a standalone node's own shards, or a cluster that has not formed yet.
      if (owner.nodeId().isEmpty() || owner.nodeId().equals(selfNodeId)) {
        continue;
      }
      peers.computeIfAbsent(owner.nodeId(), id -> new Peer(owner.address(), new ArrayList<>()))
          .shards().add(owner.shard());
    }
    return peers;
  }

  private record Peer(String address, List<Integer> shards) {}

  /**
   * The peers' deadline: {@link #PEER_DEADLINE}, or half of what is left of the caller's, so
   * that a partial answer still reaches the caller before it gives up.
   */
  private static long peerDeadlineMillis() {
    long millis = PEER_DEADLINE.toMillis();
    Deadline caller = Context.current().getDeadline();
    if (caller != null) {
      millis = Math.min(millis, Math.max(1, caller.timeRemaining(TimeUnit.MILLISECONDS) / 2));
    }
    return millis;
  }

  private CompletableFuture<NodeNamespaceStats> ask(
      String namespace, String nodeId, Peer peer, long deadlineMillis) {
    NodeNamespaceStats.Builder entry =
        NodeNamespaceStats.newBuilder().setNodeId(nodeId).setAddress(peer.address());
    String notCounted = "; its shards " + peer.shards().stream().map(String::valueOf)
        .collect(Collectors.joining(", ")) + " are not counted";
    if (peer.address().isEmpty()) {
      return CompletableFuture.completedFuture(entry.setError(
          "not registered in ZooKeeper now (stopped, or cut off from it)" + notCounted).build());
    }
    ManagedChannel channel = channels.channel(peer.address());
    if (channel == null) {
      return CompletableFuture.completedFuture(entry.setError(
          "not asked: this node is stopping" + notCounted).build());
    }
    CompletableFuture<NodeNamespaceStats> answer = new CompletableFuture<>();
    DedupeServiceGrpc.newStub(channel).withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS)
        .getNamespaceStats(
            GetNamespaceStatsRequest.newBuilder().setNamespace(namespace).setThisNodeOnly(true).build(),
            new StreamObserver<>() {
              @Override
              public void onNext(GetNamespaceStatsResponse own) {
                entry.setKeysHeld(own.getKeysHeld()).setBytesHeld(own.getBytesHeld())
                    .setEffectiveWindow(own.getEffectiveWindow());
                if (own.hasOldestBucketStart()) {
                  entry.setOldestBucketStart(own.getOldestBucketStart());
                }
              }

              @Override
              public void onError(Throwable t) {
                answer.complete(entry.setError(
                    "no answer from " + peer.address() + ": " + describe(Status.fromThrowable(t),
                        deadlineMillis) + notCounted).build());
              }

              @Override
              public void onCompleted() {
                answer.complete(entry.build());
              }
            });
    return answer;
  }

  private static String describe(Status status, long deadlineMillis) {
    if (status.getCode() == Status.Code.DEADLINE_EXCEEDED) {
      return "DEADLINE_EXCEEDED after " + deadlineMillis + " ms";
    }
    return PeerChannels.describe(status);
  }

  private NodeNamespaceStats self(NamespaceStats own) {
    NodeNamespaceStats.Builder entry = NodeNamespaceStats.newBuilder()
        .setNodeId(selfNodeId).setAddress(selfAddress.get())
        .setKeysHeld(own.keysHeld()).setBytesHeld(own.bytesHeld())
        .setEffectiveWindow(Durations.fromNanos(own.effectiveWindow().toNanos()));
    if (own.oldestBucketStartMillis() >= 0) {
      entry.setOldestBucketStart(Timestamps.fromMillis(own.oldestBucketStartMillis()));
    }
    return entry.build();
  }

  /**
   * Adds nodes up, counting only those that answered: keys and bytes are summed; the
   * effective window is the shortest, since an id older than it may be NEW again on the node
   * that owns its shard; the oldest bucket is the oldest. The configured window is this
   * node's.
   */
  static GetNamespaceStatsResponse totals(
      String namespace, Duration window, List<NodeNamespaceStats> nodes) {
    GetNamespaceStatsResponse.Builder reply = GetNamespaceStatsResponse.newBuilder()
        .setNamespace(namespace)
        .setWindow(Durations.fromNanos(window.toNanos()));
    long keys = 0;
    long bytes = 0;
    int unanswered = 0;
    com.google.protobuf.Duration effective = null;
    com.google.protobuf.Timestamp oldest = null;
    for (NodeNamespaceStats n : nodes) {
      if (!n.getError().isEmpty()) {
        unanswered++;
        continue;
      }
      keys += n.getKeysHeld();
      bytes += n.getBytesHeld();
      if (effective == null || Durations.compare(n.getEffectiveWindow(), effective) < 0) {
        effective = n.getEffectiveWindow();
      }
      if (n.hasOldestBucketStart()
          && (oldest == null || Timestamps.compare(n.getOldestBucketStart(), oldest) < 0)) {
        oldest = n.getOldestBucketStart();
      }
    }
    reply.setKeysHeld(keys).setBytesHeld(bytes).setNodesUnanswered(unanswered)
        .addAllNodes(nodes.stream()
            .sorted(Comparator.comparing(NodeNamespaceStats::getNodeId)).toList());
    if (effective != null) {
      reply.setEffectiveWindow(effective);
    }
    if (oldest != null) {
      reply.setOldestBucketStart(oldest);
    }
    return reply.build();
  }
}
