package dev.dedupe.server.replication;

import dev.dedupe.replica.v1.AppendRequest;
import dev.dedupe.replica.v1.AppendResponse;
import dev.dedupe.replica.v1.PositionRequest;
import dev.dedupe.replica.v1.PrepareHandoverRequest;
import dev.dedupe.replica.v1.PrepareHandoverResponse;
import dev.dedupe.replica.v1.PositionResponse;
import dev.dedupe.replica.v1.ReplicaServiceGrpc;
import dev.dedupe.replica.v1.ShardAck;
import dev.dedupe.replica.v1.ShardAppend;
import dev.dedupe.replica.v1.InstallSnapshotRequest;
import dev.dedupe.replica.v1.InstallSnapshotResponse;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.shard.ShardWriter;
import dev.dedupe.server.storage.StorageException;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The follower's end of replication: the gRPC service other nodes' leaders call. Each shard's
 * entries are applied on that shard's writer thread (which owns its store), without a sync;
 * once every shard of the call has applied, a sync of the node's log makes them all durable
 * ({@link FollowerSyncs}: one sync for every call waiting, from every leader), and only then
 * does the answer say APPLIED. A thin adapter: the rules are in
 * {@link ShardReplica} and {@link FollowerGate}.
 */
public final class ReplicaEndpoint extends ReplicaServiceGrpc.ReplicaServiceImplBase
    implements AutoCloseable {

  private final ReplicationRuntime runtime;
  private final ShardSet shards;
  private final SnapshotInstalls installer;
  private final FollowerSyncs syncs;

  public ReplicaEndpoint(ReplicationRuntime runtime, ShardSet shards, SnapshotInstalls installer) {
    this.runtime = runtime;
    this.shards = shards;
    this.installer = installer;
    this.syncs = new FollowerSyncs(() -> shards.nodeStore().syncWal());
  }

  /** Stops the syncs; call after the listener has stopped, before the node's store closes. */
  @Override
  public void close() throws InterruptedException {
    syncs.close();
  }

  @Override
  public void append(AppendRequest request, StreamObserver<AppendResponse> reply) {
    List<CompletableFuture<ShardReplica.AckView>> acks = new ArrayList<>();
    for (ShardAppend a : request.getShardsList()) {
      acks.add(applyOne(a));
    }
    CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new))
        .handle((done, failed) -> null) // a shard that failed answers FAILED; the others go on
        .thenCompose(ignored -> appliedAny(request, acks)
            ? syncs.sync().handle((synced, failed) -> failed == null ? "" : messageOf(failed))
            : CompletableFuture.completedFuture(""))
        .thenAccept(syncFailure -> {
          AppendResponse.Builder response = AppendResponse.newBuilder();
          for (int i = 0; i < acks.size(); i++) {
            response.addShards(toProto(request.getShards(i).getShard(), acks.get(i), syncFailure));
          }
          reply.onNext(response.build());
          reply.onCompleted();
        });
  }

  private static boolean appliedAny(
      AppendRequest request, List<CompletableFuture<ShardReplica.AckView>> acks) {
    for (int i = 0; i < acks.size(); i++) {
      ShardReplica.AckView ack = acks.get(i).getNow(null);
      if (ack != null && ack.outcome() == ShardReplica.AckView.Outcome.APPLIED
          && !request.getShards(i).getEntriesList().isEmpty()) {
        return true;
      }
    }
    return false;
  }

  private static String messageOf(Throwable failed) {
    Throwable cause = failed instanceof CompletionException && failed.getCause() != null
        ? failed.getCause() : failed;
    return String.valueOf(cause.getMessage());
  }

  /**
   * Platform threads for snapshot chunks, which are written to disk: never on the transport
   * thread the handlers run on. Made as installs need them, gone when idle.
   */
  private static final java.util.concurrent.ExecutorService INSTALLS =
      java.util.concurrent.Executors.newCachedThreadPool(
          Thread.ofPlatform().name("replica-install-", 0).daemon(true).factory());

  private CompletableFuture<ShardReplica.AckView> applyOne(ShardAppend a) {
    ShardWriter writer = shards.writer(a.getShard());
    if (writer == null || a.getShard() < 0) {
      return CompletableFuture.completedFuture(new ShardReplica.AckView(
          ShardReplica.AckView.Outcome.NOT_FOLLOWING, dev.dedupe.server.storage.LogPosition.EMPTY,
          0, "", "shard " + a.getShard() + " is not open on this node"));
    }
    ShardReplica replica = runtime.replica(a.getShard());
    List<byte[]> entries = a.getEntriesList().stream().map(ByteString::toByteArray).toList();
    return writer.submit(store -> replica.applyAppend(store, a.getEpoch(),
        PeerLink.fromProto(a.getPrevious()), entries));
  }

  private static ShardAck toProto(
      int shard, CompletableFuture<ShardReplica.AckView> future, String syncFailure) {
    ShardAck.Builder ack = ShardAck.newBuilder().setShard(shard);
    ShardReplica.AckView view;
    try {
      view = future.join();
    } catch (RuntimeException e) {
      return ack.setOutcome(ShardAck.Outcome.OUTCOME_FAILED).setDetail(e.toString()).build();
    }
    ShardAck.Outcome outcome = switch (view.outcome()) {
      case APPLIED -> syncFailure.isEmpty() ? ShardAck.Outcome.OUTCOME_APPLIED : ShardAck.Outcome.OUTCOME_FAILED;
      case STALE_EPOCH -> ShardAck.Outcome.OUTCOME_STALE_EPOCH;
      case MISMATCH -> ShardAck.Outcome.OUTCOME_MISMATCH;
      case NOT_FOLLOWING -> ShardAck.Outcome.OUTCOME_NOT_FOLLOWING;
      case FAILED -> ShardAck.Outcome.OUTCOME_FAILED;
    };
    return ack.setOutcome(outcome).setPosition(PeerLink.toProto(view.position()))
        .setKnownEpoch(view.knownEpoch()).setStoreId(view.storeId())
        .setDetail(syncFailure.isEmpty() ? view.detail() : "sync failed: " + syncFailure).build();
  }

  @Override
  public void installSnapshot(
      InstallSnapshotRequest request, StreamObserver<InstallSnapshotResponse> reply) {
    // A chunk is written to disk: off the transport thread this handler runs on.
    CompletableFuture.supplyAsync(() -> installer.accept(request), INSTALLS)
        .thenCompose(f -> f).whenComplete((response, e) -> {
      if (e != null) {
        reply.onNext(InstallSnapshotResponse.newBuilder().setAccepted(false)
            .setDetail(e.toString()).build());
      } else {
        reply.onNext(response);
      }
      reply.onCompleted();
    });
  }

  @Override
  public void position(PositionRequest request, StreamObserver<PositionResponse> reply) {
    ShardWriter writer = shards.writer(request.getShard());
    if (writer == null) {
      reply.onNext(PositionResponse.newBuilder().setHeld(false).build());
    } else {
      reply.onNext(PositionResponse.newBuilder().setHeld(true)
          .setPosition(PeerLink.toProto(runtime.replica(request.getShard()).position()))
          .setStoreId(writer.storeId()).build());
    }
    reply.onCompleted();
  }

  @Override
  public void prepareHandover(
      PrepareHandoverRequest request, StreamObserver<PrepareHandoverResponse> reply) {
    ShardWriter writer = shards.writer(request.getShard());
    if (writer == null || request.getShard() < 0 || request.getTo().isEmpty()
        || request.getLeaseMillis() <= 0) {
      reply.onNext(PrepareHandoverResponse.newBuilder().setReady(false)
          .setDetail("shard " + request.getShard() + " is not open here, or the request is"
              + " incomplete (to '" + request.getTo() + "', lease " + request.getLeaseMillis()
              + " ms)").build());
      reply.onCompleted();
      return;
    }
    runtime.replica(request.getShard()).prepareHandover(request.getEpoch(), request.getTo(),
            java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(request.getLeaseMillis()))
        .whenComplete((ready, refused) -> {
          if (refused != null) {
            reply.onNext(PrepareHandoverResponse.newBuilder().setReady(false)
                .setDetail(messageOf(refused)).build());
          } else {
            reply.onNext(PrepareHandoverResponse.newBuilder().setReady(true)
                .setEnd(PeerLink.toProto(ready.end())).setZnodeVersion(ready.version()).build());
          }
          reply.onCompleted();
        });
  }

  static Status notFollowing(int shard) {
    return Status.FAILED_PRECONDITION.withDescription("shard " + shard + " is not followed here");
  }
}
