package dev.dedupe.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import dev.dedupe.client.Item.Entry;
import dev.dedupe.client.Dispatcher.Deferred;
import dev.dedupe.client.Item.LeaseItem;
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
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/** The RPCs as {@link Dispatcher.GroupCall}s, and the conversions between proto and client types. */
final class Rpcs {

  private Rpcs() {}

  /** A unary call's observer that completes {@code future} with the one reply or the failure. */
  static <T> StreamObserver<T> observer(CompletableFuture<T> future) {
    return new StreamObserver<>() {
      private T value;

      @Override
      public void onNext(T reply) {
        value = reply;
      }

      @Override
      public void onError(Throwable t) {
        future.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        future.complete(value);
      }
    };
  }

  /** A fresh attempt token: a random UUID, 36 bytes of ASCII. */
  static String newToken() {
    return UUID.randomUUID().toString();
  }

  static Instant instant(boolean present, Timestamp t) {
    return present ? Instant.ofEpochSecond(t.getSeconds(), t.getNanos()) : null;
  }

  static com.google.protobuf.Duration duration(Duration d) {
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
  }

  /**
   * Completes {@code item} from its result, or adds it to {@code deferred} when the node did
   * not handle it (per-id UNAVAILABLE). A verdict this client does not know fails it.
   */
  static <I extends Item<Decision>> void complete(
      I item, IdResult r, String token, List<Deferred<I>> deferred) {
    if (r.hasStatus() && r.getStatus().getCode() != Status.Code.OK.value()) {
      perIdFailure(item, r.getStatus(), deferred, "the id was not decided", token);
      return;
    }
    Verdict verdict = Verdict.fromProto(r.getVerdict());
    if (verdict == null) {
      item.result.completeExceptionally(new DedupeException("the server answered verdict "
          + r.getVerdictValue() + " for id '" + item.id + "'; this client knows NEW, DUPLICATE,"
          + " IN_PROGRESS and CONFLICT (is the server newer than the client?)",
          Status.INTERNAL.withDescription("unknown verdict " + r.getVerdictValue()), null,
          tokens(token)));
      return;
    }
    item.result.complete(new Decision(
        item.id,
        verdict,
        instant(r.hasFirstSeen(), r.getFirstSeen()),
        r.getReplay(),
        instant(r.hasLeaseExpiresAt(), r.getLeaseExpiresAt()),
        r.getResult().toByteArray(),
        verdict == Verdict.NEW ? token : null));
  }

  /**
   * A per-id status other than OK: UNAVAILABLE defers the item (it was not touched, so it is
   * retried); any other code fails it.
   */
  static <I extends Item<?>> void perIdFailure(
      I item, IdStatus status, List<Deferred<I>> deferred, String what, String insertToken) {
    if (status.getCode() == Status.Code.UNAVAILABLE.value()) {
      deferred.add(new Deferred<>(item, status));
      return;
    }
    Status s = Status.fromCodeValue(status.getCode()).withDescription(status.getMessage());
    item.result.completeExceptionally(new DedupeException(what + " for id '" + item.id + "': "
        + s.getCode() + ": " + status.getMessage(), s, null, tokens(insertToken)));
  }

  /**
   * Fails every item: the server broke the one-result-per-id rule. It may have recorded ids, so
   * a CheckAndInsert's failure carries its token.
   */
  static void countMismatch(String rpc, List<? extends Item<?>> items, int got, String insertToken) {
    DedupeException e = new DedupeException(rpc + " sent " + items.size() + " ids but the server"
        + " answered " + got + " results; the contract is one per id",
        Status.INTERNAL.withDescription("result count mismatch"), null, tokens(insertToken));
    items.forEach(i -> i.result.completeExceptionally(e));
  }

  /**
   * The attempt tokens of a failure seen by one caller's one id: the CheckAndInsert token it
   * went out with, or none for other calls.
   */
  static List<String> tokens(String insertToken) {
    return insertToken == null ? List.of() : List.of(insertToken);
  }

  /**
   * One micro-batch of CheckAndInsert. Every attempt of every group sends the same attempt
   * token, so a retry after a lost reply hears NEW (replay) for the ids this batch recorded;
   * a final failure carries the token, so the caller can retry later with it.
   */
  static final class InsertCall implements Dispatcher.GroupCall<Entry> {
    private final Dispatcher dispatcher;
    private final String namespace;
    private final Duration lease;
    private final String token;
    /** True when the token is the callers' own (InsertOptions.withAttemptToken). */
    private final boolean callersToken;
    /** True for a batch re-sent for one caller alone after INVALID_ARGUMENT. */
    private final boolean isolated;

    InsertCall(Dispatcher dispatcher, String namespace, Duration lease, String token,
        boolean callersToken, boolean isolated) {
      this.dispatcher = dispatcher;
      this.namespace = namespace;
      this.lease = lease;
      this.token = token;
      this.callersToken = callersToken;
      this.isolated = isolated;
    }

    @Override
    public String rpcName() {
      return "CheckAndInsert";
    }

    @Override
    public String attemptToken() {
      return token;
    }

    @Override
    public CompletableFuture<List<Deferred<Entry>>> send(DedupeServiceStub stub, List<Entry> items) {
      CheckAndInsertRequest.Builder request = CheckAndInsertRequest.newBuilder()
          .setNamespace(namespace)
          .setAttemptToken(token);
      if (lease != null) {
        request.setLeaseDuration(duration(lease));
      }
      boolean anyFingerprint = false;
      for (Entry e : items) {
        request.addMessageIds(e.id);
        anyFingerprint |= e.fingerprint.length > 0;
      }
      if (anyFingerprint) {
        // Per id, so that callers with different payloads share the request.
        for (Entry e : items) {
          request.addFingerprints(ByteString.copyFrom(e.fingerprint));
        }
      }
      CompletableFuture<CheckAndInsertResponse> reply = new CompletableFuture<>();
      stub.checkAndInsert(request.build(), observer(reply));
      return reply.thenApply(response -> {
        List<Deferred<Entry>> deferred = new ArrayList<>();
        if (response.getResultsCount() != items.size()) {
          countMismatch(rpcName(), items, response.getResultsCount(), token);
          return deferred;
        }
        for (int i = 0; i < items.size(); i++) {
          complete(items.get(i), response.getResults(i), token, deferred);
        }
        return deferred;
      });
    }

    /**
     * On INVALID_ARGUMENT for a batch that holds several callers' ids, one caller's bad id (too
     * long for this server, say) must not fail the others: each caller's ids are sent again on
     * their own, once. The rejected request recorded nothing, so this is not a retry of it.
     */
    @Override
    public void fail(List<Entry> items, DedupeException failure) {
      if (failure.code() == Status.Code.INVALID_ARGUMENT && !isolated) {
        Map<Object, List<Entry>> byCaller = new IdentityHashMap<>();
        List<Object> order = new ArrayList<>();
        for (Entry e : items) {
          byCaller.computeIfAbsent(e.caller, c -> {
            order.add(c);
            return new ArrayList<>();
          }).add(e);
        }
        if (byCaller.size() > 1) {
          for (Object caller : order) {
            // A token of the callers' own is their retry identity: keep it.
            dispatcher.dispatch(namespace, byCaller.get(caller), new InsertCall(dispatcher,
                namespace, lease, callersToken ? token : newToken(), callersToken, true));
          }
          return;
        }
      }
      Dispatcher.GroupCall.super.fail(items, failure);
    }
  }

  /** Check: what CheckAndInsert would answer, recording nothing. */
  static final class CheckCall implements Dispatcher.GroupCall<Item<Decision>> {
    private final String namespace;

    CheckCall(String namespace) {
      this.namespace = namespace;
    }

    @Override
    public String rpcName() {
      return "Check";
    }

    @Override
    public CompletableFuture<List<Deferred<Item<Decision>>>> send(
        DedupeServiceStub stub, List<Item<Decision>> items) {
      CheckRequest.Builder request = CheckRequest.newBuilder().setNamespace(namespace);
      items.forEach(i -> request.addMessageIds(i.id));
      CompletableFuture<CheckResponse> reply = new CompletableFuture<>();
      stub.check(request.build(), observer(reply));
      return reply.thenApply(response -> {
        List<Deferred<Item<Decision>>> deferred = new ArrayList<>();
        if (response.getResultsCount() != items.size()) {
          countMismatch(rpcName(), items, response.getResultsCount(), null);
          return deferred;
        }
        for (int i = 0; i < items.size(); i++) {
          complete(items.get(i), response.getResults(i), null, deferred);
        }
        return deferred;
      });
    }
  }

  /** Forget: removes ids; true where one was held. */
  static final class ForgetCall implements Dispatcher.GroupCall<Item<Boolean>> {
    private final String namespace;

    ForgetCall(String namespace) {
      this.namespace = namespace;
    }

    @Override
    public String rpcName() {
      return "Forget";
    }

    @Override
    public CompletableFuture<List<Deferred<Item<Boolean>>>> send(
        DedupeServiceStub stub, List<Item<Boolean>> items) {
      ForgetRequest.Builder request = ForgetRequest.newBuilder().setNamespace(namespace);
      items.forEach(i -> request.addMessageIds(i.id));
      CompletableFuture<ForgetResponse> reply = new CompletableFuture<>();
      stub.forget(request.build(), observer(reply));
      return reply.thenApply(response -> {
        List<Deferred<Item<Boolean>>> deferred = new ArrayList<>();
        boolean withStatuses = response.getStatusesCount() > 0;
        if (response.getRemovedCount() != items.size()
            || (withStatuses && response.getStatusesCount() != items.size())) {
          countMismatch(rpcName(), items, response.getRemovedCount(), null);
          return deferred;
        }
        for (int i = 0; i < items.size(); i++) {
          IdStatus status = withStatuses ? response.getStatuses(i) : null;
          if (status != null && status.getCode() != Status.Code.OK.value()) {
            perIdFailure(items.get(i), status, deferred, "Forget", null);
          } else {
            items.get(i).result.complete(response.getRemoved(i));
          }
        }
        return deferred;
      });
    }
  }

  /** The lease operations. */
  enum LeaseOp { COMMIT, RELEASE, EXTEND_LEASE }

  /**
   * Commit, Release or ExtendLease. Retrying them is safe: the server answers a repeated Commit
   * or Release by the holding token with OK. Per id, FAILED_PRECONDITION becomes a
   * {@link LeaseLostException}, UNAVAILABLE a retry (at the owner it names); for ExtendLease,
   * an OK item completes with the new lease end.
   */
  static final class LeaseCall implements Dispatcher.GroupCall<LeaseItem> {
    private final LeaseOp op;
    private final String namespace;
    private final String token;
    private final Duration lease;

    LeaseCall(LeaseOp op, String namespace, String token, Duration lease) {
      this.op = op;
      this.namespace = namespace;
      this.token = token;
      this.lease = lease;
    }

    @Override
    public String rpcName() {
      return switch (op) {
        case COMMIT -> "Commit";
        case RELEASE -> "Release";
        case EXTEND_LEASE -> "ExtendLease";
      };
    }

    @Override
    public CompletableFuture<List<Deferred<LeaseItem>>> send(
        DedupeServiceStub stub, List<LeaseItem> items) {
      List<String> ids = items.stream().map(i -> i.id).toList();
      switch (op) {
        case COMMIT -> {
          CommitRequest.Builder request = CommitRequest.newBuilder()
              .setNamespace(namespace).addAllMessageIds(ids).setAttemptToken(token);
          boolean anyResult = items.stream().anyMatch(i -> i.commitResult.length > 0);
          if (anyResult) {
            items.forEach(i -> request.addResults(ByteString.copyFrom(i.commitResult)));
          }
          CompletableFuture<CommitResponse> reply = new CompletableFuture<>();
          stub.commit(request.build(), observer(reply));
          return reply.thenApply(r -> apply(items, r.getStatusesList(), List.of()));
        }
        case RELEASE -> {
          ReleaseRequest request = ReleaseRequest.newBuilder()
              .setNamespace(namespace).addAllMessageIds(ids).setAttemptToken(token).build();
          CompletableFuture<ReleaseResponse> reply = new CompletableFuture<>();
          stub.release(request, observer(reply));
          return reply.thenApply(r -> apply(items, r.getStatusesList(), List.of()));
        }
        case EXTEND_LEASE -> {
          ExtendLeaseRequest request = ExtendLeaseRequest.newBuilder()
              .setNamespace(namespace).addAllMessageIds(ids).setAttemptToken(token)
              .setLeaseDuration(duration(lease)).build();
          CompletableFuture<ExtendLeaseResponse> reply = new CompletableFuture<>();
          stub.extendLease(request, observer(reply));
          return reply.thenApply(r -> apply(items, r.getStatusesList(), r.getLeaseExpiresAtList()));
        }
        default -> throw new AssertionError(op);
      }
    }

    private List<Deferred<LeaseItem>> apply(
        List<LeaseItem> items, List<IdStatus> statuses, List<Timestamp> ends) {
      List<Deferred<LeaseItem>> deferred = new ArrayList<>();
      if (statuses.size() != items.size()) {
        countMismatch(rpcName(), items, statuses.size(), null);
        return deferred;
      }
      for (int i = 0; i < items.size(); i++) {
        LeaseItem item = items.get(i);
        IdStatus status = statuses.get(i);
        if (status.getCode() == Status.Code.OK.value()) {
          Timestamp end = i < ends.size() ? ends.get(i) : null;
          item.result.complete(end == null || end.equals(Timestamp.getDefaultInstance())
              ? null : instant(true, end));
        } else if (status.getCode() == Status.Code.FAILED_PRECONDITION.value()) {
          item.result.completeExceptionally(
              new LeaseLostException(rpcName(), namespace, item.id, token, status.getMessage()));
        } else {
          perIdFailure(item, status, deferred, rpcName() + " in namespace '" + namespace + "'", null);
        }
      }
      return deferred;
    }
  }
}
