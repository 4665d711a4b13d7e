package dev.dedupe.server.it;

import com.google.common.util.concurrent.ListenableFuture;
import dev.dedupe.contract.ShardHash;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.ShardOwner;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Supplier;

/**
 * What a smart client does with plain generated stubs: hash each id to its shard, send it to
 * the shard's leader as the newest map it has seen names it, learn newer leaders from the
 * owner hints of per-id UNAVAILABLE answers, and ask the nodes for the map again when the
 * leader it knows does not answer. The map is merged per shard by epoch, so a stale node (one
 * cut off, or a paused one that just woke) never sends the router back to an old leader.
 */
final class LeaderRouter implements AutoCloseable {

  /** A shard's leader as the router knows it; an empty address means none is reachable. */
  record Owner(String address, long epoch, String node) {}

  private static final long MAP_DEADLINE_MILLIS = 1_000;
  /** Refreshes closer together than this reuse the last one's answer. */
  private static final long MIN_REFRESH_NANOS = 100_000_000L;

  private final String namespace;
  private final int shards;
  private final Supplier<List<String>> nodeAddresses;
  private final AtomicReferenceArray<Owner> owners;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Object refreshing = new Object();
  private volatile long lastRefreshNanos = System.nanoTime() - 2 * MIN_REFRESH_NANOS;

  /** @param nodeAddresses the gRPC addresses of the nodes that may be up now, to ask for the map */
  LeaderRouter(String namespace, int shards, Supplier<List<String>> nodeAddresses) {
    this.namespace = namespace;
    this.shards = shards;
    this.nodeAddresses = nodeAddresses;
    this.owners = new AtomicReferenceArray<>(shards);
    for (int s = 0; s < shards; s++) {
      owners.set(s, new Owner("", -1, ""));
    }
  }

  int shardOf(String id) {
    return ShardHash.shardOf(namespace, id, shards);
  }

  Owner owner(int shard) {
    return owners.get(shard);
  }

  /** A cached plaintext channel to {@code address} (host:port). */
  ManagedChannel channel(String address) {
    return channels.computeIfAbsent(address,
        a -> NettyChannelBuilder.forTarget(a).usePlaintext().build());
  }

  DedupeServiceGrpc.DedupeServiceBlockingStub stub(String address) {
    return DedupeServiceGrpc.newBlockingStub(channel(address));
  }

  /** An owner hint from an answer: taken if it is newer than what the router knows. */
  void learn(ShardOwner hint) {
    int shard = hint.getShard();
    if (shard < 0 || shard >= shards) {
      return;
    }
    owners.updateAndGet(shard, known -> newer(known, hint) ? ownerOf(hint) : known);
  }

  private static boolean newer(Owner known, ShardOwner hint) {
    if (hint.getEpoch() != known.epoch()) {
      return hint.getEpoch() > known.epoch();
    }
    return known.address().isEmpty() && !hint.getAddress().isEmpty();
  }

  private static Owner ownerOf(ShardOwner o) {
    return new Owner(o.getAddress(), o.getEpoch(), o.getNodeId());
  }

  /**
   * Asks every node it knows of for the map, in parallel with a short deadline, and merges the
   * answers in. Concurrent callers share one refresh; one that follows a refresh by less than
   * {@link #MIN_REFRESH_NANOS} returns at once.
   */
  void refresh() {
    synchronized (refreshing) {
      if (System.nanoTime() - lastRefreshNanos < MIN_REFRESH_NANOS) {
        return;
      }
      List<ListenableFuture<GetShardMapResponse>> asked = new ArrayList<>();
      for (String address : nodeAddresses.get()) {
        asked.add(DedupeServiceGrpc.newFutureStub(channel(address))
            .withDeadlineAfter(MAP_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
            .getShardMap(GetShardMapRequest.getDefaultInstance()));
      }
      for (ListenableFuture<GetShardMapResponse> answer : asked) {
        try {
          answer.get().getOwnersList().forEach(this::learn);
        } catch (ExecutionException e) {
          // That node is down, paused or starting: the others answer.
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
      lastRefreshNanos = System.nanoTime();
    }
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
    channels.clear();
  }
}
