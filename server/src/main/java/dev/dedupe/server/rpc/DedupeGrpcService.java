package dev.dedupe.server.rpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Timestamps;
import dev.dedupe.server.core.DedupeEngine;
import dev.dedupe.server.core.ShardDirectory;
import dev.dedupe.server.decision.ForgetResult;
import dev.dedupe.server.decision.IdResult;
import dev.dedupe.server.decision.InsertOptions;
import dev.dedupe.server.decision.LeaseOpResult;
import dev.dedupe.server.decision.ShardMap;
import dev.dedupe.server.ops.ServerMetrics.Rpc;
import dev.dedupe.server.ops.ServerMetrics;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckAndInsertResponse;
import dev.dedupe.v1.CheckRequest;
import dev.dedupe.v1.CheckResponse;
import dev.dedupe.v1.CommitRequest;
import dev.dedupe.v1.CommitResponse;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.ExtendLeaseRequest;
import dev.dedupe.v1.ExtendLeaseResponse;
import dev.dedupe.v1.ForgetRequest;
import dev.dedupe.v1.ForgetResponse;
import dev.dedupe.v1.GetNamespaceStatsRequest;
import dev.dedupe.v1.GetNamespaceStatsResponse;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.IdStatus;
import dev.dedupe.v1.ReleaseRequest;
import dev.dedupe.v1.ReleaseResponse;
import dev.dedupe.v1.Verdict;
import dev.dedupe.v1.WatchShardMapRequest;
import dev.dedupe.v1.WatchShardMapResponse;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The gRPC face of {@link DedupeEngine}: validates, calls the engine (through {@link
 * Forwarder}, which sends the ids of other nodes' shards on to their owners), and turns its
 * answers into messages. Each call completes its observer exactly once, from one thread.
 */
public final class DedupeGrpcService extends DedupeServiceGrpc.DedupeServiceImplBase {

  /**
   * Replies to calls of at most this many ids are built on the thread that completes the answer
   * (a shard writer, or the transport thread for answers known at once): building a small
   * reply costs less than handing it to another thread, which costs a wake-up.
   */
  static final int INLINE_REPLY_MAX_IDS = 32;

  private final DedupeEngine engine;
  private final RequestValidator validator;
  private final ServerMetrics metrics;
  /**
   * Builds large replies off the shard writer threads, so writers go straight back to deciding.
   * Small replies are built where the answer completes: a hand-off costs more than they do.
   */
  private final Executor replyExecutor;
  private final ShardDirectory shards;
  private final ClusterStats stats;
  private final Forwarder forwarder;
  /** The WatchShardMap streams open now, so that shutdown can end them. */
  private final Set<ShardMapWatch<?>> watches = ConcurrentHashMap.newKeySet();
  /** Set once by {@link #endWatches}: a watch that starts after it is ended at once. */
  private volatile boolean endingWatches;

  public DedupeGrpcService(
      DedupeEngine engine, RequestValidator validator, ServerMetrics metrics,
      Executor replyExecutor, ShardDirectory shards, ClusterStats stats, Forwarder forwarder) {
    this.engine = engine;
    this.validator = validator;
    this.metrics = metrics;
    this.replyExecutor = replyExecutor;
    this.shards = shards;
    this.stats = stats;
    this.forwarder = forwarder;
  }

  @Override
  public void getShardMap(GetShardMapRequest request, StreamObserver<GetShardMapResponse> observer) {
    serve(Rpc.GET_SHARD_MAP, 0, observer,
        () -> CompletableFuture.completedFuture(shards.map()),
        map -> GetShardMapResponse.newBuilder()
            .setShardCount(map.shardCount())
            .setHash(map.hash())
            .addAllOwners(map.owners().stream().map(IdStatuses::toProto).toList())
            .build());
  }

  @Override
  public void watchShardMap(
      WatchShardMapRequest request, StreamObserver<WatchShardMapResponse> observer) {
    ShardMapWatch<WatchShardMapResponse> watch = new ShardMapWatch<WatchShardMapResponse>(
        shards, (ServerCallStreamObserver<WatchShardMapResponse>) observer,
        (ShardMap map) -> WatchShardMapResponse.newBuilder()
            .setShardCount(map.shardCount())
            .setHash(map.hash())
            .addAllOwners(map.owners().stream().map(IdStatuses::toProto).toList())
            .build(),
        watches::remove);
    // Registered before the flag is read, and endWatches sets the flag before it reads the
    // set: a watch that races with shutdown is ended by one side or the other.
    watches.add(watch);
    watch.start();
    if (endingWatches) {
      watch.end();
    }
  }

  /**
   * Completes every open WatchShardMap stream, and every one that starts from now on. A watch
   * never ends by itself, so the server calls this on shutdown; otherwise it would wait out its
   * whole grace period whenever a client watches the map.
   */
  public void endWatches() {
    endingWatches = true;
    for (ShardMapWatch<?> watch : watches) {
      watch.end();
    }
  }

  @Override
  public void checkAndInsert(
      CheckAndInsertRequest request, StreamObserver<CheckAndInsertResponse> observer) {
    List<String> ids = request.getMessageIdsList();
    serve(Rpc.CHECK_AND_INSERT, ids.size(), observer,
        () -> {
          InsertOptions options = validator.validateCheckAndInsert(request);
          return forwarder.route(PerIdRpc.CHECK_AND_INSERT, request, request.getNamespace(), ids,
              local -> engine.checkAndInsert(request.getNamespace(), local.local(ids),
                  new InsertOptions(options.attemptToken(), options.leaseMillis(),
                      local.local(options.fingerprints())),
                  GrpcCaller.current()));
        },
        routed -> routed.reply(results -> {
          countVerdicts(Rpc.CHECK_AND_INSERT, results);
          CheckAndInsertResponse.Builder reply = CheckAndInsertResponse.newBuilder();
          for (IdResult r : results) {
            reply.addResults(toProto(r));
          }
          return reply.build();
        }));
  }

  @Override
  public void commit(CommitRequest request, StreamObserver<CommitResponse> observer) {
    List<String> ids = request.getMessageIdsList();
    serve(Rpc.COMMIT, ids.size(), observer,
        () -> {
          validator.validate(request.getNamespace(), ids);
          validator.validateToken(request.getAttemptToken(), true, "to commit a lease");
          validator.validatePerId("results", request.getResultsList(), ids.size(),
              validator.limits().resultMaxBytes(), "limits.result.max-bytes");
          return forwarder.route(PerIdRpc.COMMIT, request, request.getNamespace(), ids,
              local -> engine.commit(request.getNamespace(), local.local(ids),
                  request.getAttemptToken(),
                  local.local(request.getResultsList()).stream().map(ByteString::toByteArray).toList(),
                  GrpcCaller.current()));
        },
        routed -> routed.reply(results ->
            CommitResponse.newBuilder().addAllStatuses(statuses(Rpc.COMMIT, results)).build()));
  }

  @Override
  public void release(ReleaseRequest request, StreamObserver<ReleaseResponse> observer) {
    List<String> ids = request.getMessageIdsList();
    serve(Rpc.RELEASE, ids.size(), observer,
        () -> {
          validator.validate(request.getNamespace(), ids);
          validator.validateToken(request.getAttemptToken(), true, "to release a lease");
          return forwarder.route(PerIdRpc.RELEASE, request, request.getNamespace(), ids,
              local -> engine.release(request.getNamespace(), local.local(ids),
                  request.getAttemptToken(), GrpcCaller.current()));
        },
        routed -> routed.reply(results ->
            ReleaseResponse.newBuilder().addAllStatuses(statuses(Rpc.RELEASE, results)).build()));
  }

  @Override
  public void extendLease(
      ExtendLeaseRequest request, StreamObserver<ExtendLeaseResponse> observer) {
    List<String> ids = request.getMessageIdsList();
    serve(Rpc.EXTEND_LEASE, ids.size(), observer,
        () -> {
          validator.validate(request.getNamespace(), ids);
          validator.validateToken(request.getAttemptToken(), true, "to extend a lease");
          long lease = validator.validateLease(request.getLeaseDuration().getSeconds(),
              request.getLeaseDuration().getNanos(), true);
          return forwarder.route(PerIdRpc.EXTEND_LEASE, request, request.getNamespace(), ids,
              local -> engine.extendLease(request.getNamespace(), local.local(ids),
                  request.getAttemptToken(), lease, GrpcCaller.current()));
        },
        routed -> routed.reply(results -> {
          ExtendLeaseResponse.Builder reply = ExtendLeaseResponse.newBuilder()
              .addAllStatuses(statuses(Rpc.EXTEND_LEASE, results));
          for (LeaseOpResult r : results) {
            reply.addLeaseExpiresAt(r.ok() ? timestamp(r.leaseExpiresMillis()) : Timestamp.getDefaultInstance());
          }
          return reply.build();
        }));
  }

  private List<IdStatus> statuses(Rpc rpc, LeaseOpResult[] results) {
    List<IdStatus> statuses = new java.util.ArrayList<>(results.length);
    int ok = 0;
    int unhandled = 0;
    for (LeaseOpResult r : results) {
      if (r.ok()) {
        ok++;
        statuses.add(IdStatuses.OK);
      } else if (r.unhandled() != null) {
        unhandled++;
        statuses.add(IdStatuses.unavailable(r.unhandled()));
      } else {
        statuses.add(IdStatus.newBuilder()
            .setCode(com.google.rpc.Code.FAILED_PRECONDITION_VALUE).setMessage(r.failure()).build());
      }
    }
    metrics.recordIds(rpc, "ok", ok);
    metrics.recordIds(rpc, "lease_lost", results.length - ok - unhandled);
    metrics.recordIds(rpc, "unavailable", unhandled);
    return statuses;
  }

  @Override
  public void check(CheckRequest request, StreamObserver<CheckResponse> observer) {
    List<String> ids = request.getMessageIdsList();
    serve(Rpc.CHECK, ids.size(), observer,
        () -> {
          validator.validate(request.getNamespace(), ids);
          return forwarder.route(PerIdRpc.CHECK, request, request.getNamespace(), ids,
              local -> engine.check(request.getNamespace(), local.local(ids), GrpcCaller.current()));
        },
        routed -> routed.reply(results -> {
          countVerdicts(Rpc.CHECK, results);
          CheckResponse.Builder reply = CheckResponse.newBuilder();
          for (IdResult r : results) {
            reply.addResults(toProto(r));
          }
          return reply.build();
        }));
  }

  @Override
  public void forget(ForgetRequest request, StreamObserver<ForgetResponse> observer) {
    List<String> ids = request.getMessageIdsList();
    serve(Rpc.FORGET, ids.size(), observer,
        () -> {
          validator.validate(request.getNamespace(), ids);
          return forwarder.route(PerIdRpc.FORGET, request, request.getNamespace(), ids,
              local -> engine.forget(request.getNamespace(), local.local(ids), GrpcCaller.current()));
        },
        routed -> routed.reply(results -> {
          ForgetResponse.Builder reply = ForgetResponse.newBuilder();
          int removed = 0;
          int unhandled = 0;
          for (ForgetResult r : results) {
            reply.addRemoved(r.removed());
            removed += r.removed() ? 1 : 0;
            unhandled += r.unhandled() != null ? 1 : 0;
          }
          if (unhandled > 0) {
            for (ForgetResult r : results) {
              reply.addStatuses(r.unhandled() == null ? IdStatuses.OK : IdStatuses.unavailable(r.unhandled()));
            }
          }
          metrics.recordIds(Rpc.FORGET, "removed", removed);
          metrics.recordIds(Rpc.FORGET, "absent", results.length - removed - unhandled);
          metrics.recordIds(Rpc.FORGET, "unavailable", unhandled);
          return reply.build();
        }));
  }

  @Override
  public void getNamespaceStats(
      GetNamespaceStatsRequest request, StreamObserver<GetNamespaceStatsResponse> observer) {
    serve(Rpc.GET_NAMESPACE_STATS, 0, observer,
        () -> {
          // Validated before any peer is asked, so a bad request costs the cluster nothing.
          validator.validateNamespace(request.getNamespace());
          return stats.stats(request.getNamespace(), request.getThisNodeOnly());
        },
        Function.identity());
  }

  private <T, R> void serve(
      Rpc rpc, int ids, StreamObserver<R> observer,
      java.util.function.Supplier<CompletableFuture<T>> call, Function<T, R> reply) {
    long start = System.nanoTime();
    CompletableFuture<T> pending;
    try {
      pending = call.get();
    } catch (RuntimeException e) {
      fail(rpc, ids, start, observer, e);
      return;
    }
    BiConsumer<T, Throwable> answer = (value, failure) -> {
      if (failure != null) {
        fail(rpc, ids, start, observer, failure);
        return;
      }
      R message;
      try {
        message = reply.apply(value);
      } catch (RuntimeException e) {
        fail(rpc, ids, start, observer, e);
        return;
      }
      observer.onNext(message);
      observer.onCompleted();
      metrics.recordCall(rpc, ids, start, "ok");
    };
    if (ids <= INLINE_REPLY_MAX_IDS) {
      pending.whenComplete(answer);
    } else {
      pending.whenCompleteAsync(answer, replyExecutor);
    }
  }

  private <R> void fail(Rpc rpc, int ids, long start, StreamObserver<R> observer, Throwable e) {
    StatusRuntimeException status = StatusMapping.toStatus(e);
    observer.onError(status);
    metrics.recordCall(rpc, ids, start, status.getStatus().getCode().name().toLowerCase(Locale.ROOT));
  }

  private void countVerdicts(Rpc rpc, IdResult[] results) {
    long[] counts = new long[dev.dedupe.server.decision.Verdict.values().length];
    long unhandled = 0;
    for (IdResult r : results) {
      if (r.unhandled() != null) {
        unhandled++;
      } else {
        counts[r.verdict().ordinal()]++;
      }
    }
    for (dev.dedupe.server.decision.Verdict v : dev.dedupe.server.decision.Verdict.values()) {
      metrics.recordIds(rpc, v.name().toLowerCase(Locale.ROOT), counts[v.ordinal()]);
    }
    metrics.recordIds(rpc, "unavailable", unhandled);
  }

  private static dev.dedupe.v1.IdResult toProto(IdResult r) {
    if (r.unhandled() != null) {
      return dev.dedupe.v1.IdResult.newBuilder().setStatus(IdStatuses.unavailable(r.unhandled())).build();
    }
    dev.dedupe.v1.IdResult.Builder b = dev.dedupe.v1.IdResult.newBuilder()
        .setVerdict(switch (r.verdict()) {
          case NEW -> Verdict.VERDICT_NEW;
          case DUPLICATE -> Verdict.VERDICT_DUPLICATE;
          case IN_PROGRESS -> Verdict.VERDICT_IN_PROGRESS;
          case CONFLICT -> Verdict.VERDICT_CONFLICT;
        });
    if (r.firstSeenMillis() != IdResult.NOT_RECORDED) {
      b.setFirstSeen(timestamp(r.firstSeenMillis()));
    }
    if (r.replay()) {
      b.setReplay(true);
    }
    if (r.leaseExpiresMillis() > 0) {
      b.setLeaseExpiresAt(timestamp(r.leaseExpiresMillis()));
    }
    if (r.result().length > 0) {
      b.setResult(ByteString.copyFrom(r.result()));
    }
    return b.build();
  }

  private static Timestamp timestamp(long millis) {
    return Timestamps.fromMillis(millis);
  }
}
