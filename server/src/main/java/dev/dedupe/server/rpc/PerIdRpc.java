package dev.dedupe.server.rpc;

import com.google.protobuf.Timestamp;
import dev.dedupe.server.ops.ServerMetrics.Rpc;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckAndInsertResponse;
import dev.dedupe.v1.CheckRequest;
import dev.dedupe.v1.CheckResponse;
import dev.dedupe.v1.CommitRequest;
import dev.dedupe.v1.CommitResponse;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceStub;
import dev.dedupe.v1.ExtendLeaseRequest;
import dev.dedupe.v1.ExtendLeaseResponse;
import dev.dedupe.v1.ForgetRequest;
import dev.dedupe.v1.ForgetResponse;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.IdStatus;
import dev.dedupe.v1.ReleaseRequest;
import dev.dedupe.v1.ReleaseResponse;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * What forwarding needs to know of one API call that answers per id: how to cut a request
 * down to some of its ids (keeping every other field), how to send it to a peer, and how to
 * take a reply apart into one answer per id and put answers back together. {@link
 * RoutedAnswers} merges with these; the six calls that take ids are defined below.
 *
 * @param <E> one id's answer, as the reply carries it
 * @param part the request with only the ids at the given positions, and their per-id fields
 * @param items one answer per id of a reply, in its request's order
 * @param unavailable the answer for an id that was not decided, with this status
 * @param assemble the reply of these answers, one per id in request order
 */
record PerIdRpc<Req, Resp, E>(
    Rpc rpc,
    BiFunction<Req, int[], Req> part,
    PeerCall<Req, Resp> call,
    Function<Resp, List<E>> items,
    Function<IdStatus, E> unavailable,
    Function<List<E>, Resp> assemble) {

  /** Sends a request to a peer: one of the async stub's methods. */
  @FunctionalInterface
  interface PeerCall<Req, Resp> {
    void send(DedupeServiceStub stub, Req request, StreamObserver<Resp> answer);
  }

  static final PerIdRpc<CheckAndInsertRequest, CheckAndInsertResponse, IdResult> CHECK_AND_INSERT =
      new PerIdRpc<>(Rpc.CHECK_AND_INSERT,
          (whole, at) -> whole.toBuilder()
              .clearMessageIds().addAllMessageIds(IdSplit.pick(whole.getMessageIdsList(), at))
              .clearFingerprints().addAllFingerprints(IdSplit.pick(whole.getFingerprintsList(), at))
              .build(),
          DedupeServiceStub::checkAndInsert,
          CheckAndInsertResponse::getResultsList,
          status -> IdResult.newBuilder().setStatus(status).build(),
          results -> CheckAndInsertResponse.newBuilder().addAllResults(results).build());

  static final PerIdRpc<CheckRequest, CheckResponse, IdResult> CHECK =
      new PerIdRpc<>(Rpc.CHECK,
          (whole, at) -> whole.toBuilder()
              .clearMessageIds().addAllMessageIds(IdSplit.pick(whole.getMessageIdsList(), at))
              .build(),
          DedupeServiceStub::check,
          CheckResponse::getResultsList,
          status -> IdResult.newBuilder().setStatus(status).build(),
          results -> CheckResponse.newBuilder().addAllResults(results).build());

  /** One id's answer to Forget: whether it was removed, and its status (OK when handled). */
  record Forgotten(boolean removed, IdStatus status) {}

  static final PerIdRpc<ForgetRequest, ForgetResponse, Forgotten> FORGET =
      new PerIdRpc<>(Rpc.FORGET,
          (whole, at) -> whole.toBuilder()
              .clearMessageIds().addAllMessageIds(IdSplit.pick(whole.getMessageIdsList(), at))
              .build(),
          DedupeServiceStub::forget,
          reply -> {
            List<Forgotten> items = new ArrayList<>(reply.getRemovedCount());
            for (int i = 0; i < reply.getRemovedCount(); i++) {
              // No statuses: the node handled every id.
              IdStatus status = reply.getStatusesCount() == 0 ? IdStatuses.OK : reply.getStatuses(i);
              items.add(new Forgotten(reply.getRemoved(i), status));
            }
            return items;
          },
          status -> new Forgotten(false, status),
          items -> {
            ForgetResponse.Builder reply = ForgetResponse.newBuilder();
            items.forEach(f -> reply.addRemoved(f.removed()));
            // As the proto says: statuses only when some id was not handled.
            if (items.stream().anyMatch(f -> f.status().getCode() != 0)) {
              items.forEach(f -> reply.addStatuses(f.status()));
            }
            return reply.build();
          });

  static final PerIdRpc<CommitRequest, CommitResponse, IdStatus> COMMIT =
      new PerIdRpc<>(Rpc.COMMIT,
          (whole, at) -> whole.toBuilder()
              .clearMessageIds().addAllMessageIds(IdSplit.pick(whole.getMessageIdsList(), at))
              .clearResults().addAllResults(IdSplit.pick(whole.getResultsList(), at))
              .build(),
          DedupeServiceStub::commit,
          CommitResponse::getStatusesList,
          Function.identity(),
          statuses -> CommitResponse.newBuilder().addAllStatuses(statuses).build());

  static final PerIdRpc<ReleaseRequest, ReleaseResponse, IdStatus> RELEASE =
      new PerIdRpc<>(Rpc.RELEASE,
          (whole, at) -> whole.toBuilder()
              .clearMessageIds().addAllMessageIds(IdSplit.pick(whole.getMessageIdsList(), at))
              .build(),
          DedupeServiceStub::release,
          ReleaseResponse::getStatusesList,
          Function.identity(),
          statuses -> ReleaseResponse.newBuilder().addAllStatuses(statuses).build());

  /** One id's answer to ExtendLease: its status, and the lease's new end (zero unless OK). */
  record Extended(IdStatus status, Timestamp leaseExpiresAt) {}

  static final PerIdRpc<ExtendLeaseRequest, ExtendLeaseResponse, Extended> EXTEND_LEASE =
      new PerIdRpc<>(Rpc.EXTEND_LEASE,
          (whole, at) -> whole.toBuilder()
              .clearMessageIds().addAllMessageIds(IdSplit.pick(whole.getMessageIdsList(), at))
              .build(),
          DedupeServiceStub::extendLease,
          reply -> {
            List<Extended> items = new ArrayList<>(reply.getStatusesCount());
            for (int i = 0; i < reply.getStatusesCount(); i++) {
              items.add(new Extended(reply.getStatuses(i), i < reply.getLeaseExpiresAtCount()
                  ? reply.getLeaseExpiresAt(i) : Timestamp.getDefaultInstance()));
            }
            return items;
          },
          status -> new Extended(status, Timestamp.getDefaultInstance()),
          items -> {
            ExtendLeaseResponse.Builder reply = ExtendLeaseResponse.newBuilder();
            items.forEach(e -> reply.addStatuses(e.status()).addLeaseExpiresAt(e.leaseExpiresAt()));
            return reply.build();
          });
}
