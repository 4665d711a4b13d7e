package dev.dedupe.server.rpc;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.core.ShardDirectory;
import dev.dedupe.server.core.ShardRoute;
import dev.dedupe.server.decision.Unhandled;
import dev.dedupe.server.ops.ServerMetrics;
import dev.dedupe.server.rpc.RoutedAnswers.OwnerAnswer;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceStub;
import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * One-hop forwarding, so that a plain stub or grpcurl can call any node of a cluster: the ids
 * of shards this node does not serve go to the node the shard map names as their owner, one
 * sub-request per owner address, while this node decides its own; {@link RoutedAnswers} puts
 * the answers back in request order.
 *
 * <p>One hop only: a sub-request carries {@link ForwardedHeader}, and a node never forwards
 * what it received with it. So ids cannot travel in circles between nodes whose maps
 * disagree; the owner answers its own per-id UNAVAILABLE instead, and the caller follows that.
 * A standalone node never forwards, and neither is an id forwarded whose owner has no address
 * (the owner is down, or the cluster has not formed): the engine answers it UNAVAILABLE here.
 *
 * <p>The ids are hashed to shards here as well as in the engine, so that the sub-requests go
 * out at once, in parallel with this node's own shards, rather than after them. The cost, one
 * hash per id, falls on cluster members only (the Java client routes by itself, and its ids
 * are all local).
 */
public final class Forwarder {

  private final ShardDirectory shards;
  private final String selfNodeId;
  private final PeerChannels channels;
  private final ServerMetrics metrics;
  /** Marks every sub-request as forwarded by this node. */
  private final ClientInterceptor forwardedByThisNode;

  /**
   * @param selfNodeId this node's id in the cluster, or "" for a standalone node, which never
   *     forwards
   * @param channels the channels to other nodes
   */
  public Forwarder(
      ShardDirectory shards, String selfNodeId, PeerChannels channels, ServerMetrics metrics) {
    this.shards = shards;
    this.selfNodeId = selfNodeId;
    this.channels = channels;
    this.metrics = metrics;
    this.forwardedByThisNode = selfNodeId.isEmpty() ? null
        : MetadataUtils.newAttachHeadersInterceptor(ForwardedHeader.sentBy(selfNodeId));
  }

  /**
   * Runs one call: hands the ids this node keeps to {@code local}, sends each owner its part,
   * and completes when every answer is in. Call it on the gRPC thread of the incoming call,
   * after the whole request was validated: the sub-requests take that call's deadline and are
   * cancelled with it. Fails only as {@code local} fails; an owner's failure becomes its ids'
   * answers.
   *
   * @param local this node's part: the split's {@link IdSplit#local} picks its ids and per-id
   *     fields
   */
  <Req, Resp, L> CompletableFuture<RoutedAnswers<L, Resp>> route(
      PerIdRpc<Req, Resp, ?> rpc, Req request, String namespace, List<String> ids,
      Function<IdSplit, CompletableFuture<L>> local) {
    IdSplit split = split(namespace, ids);
    // This node's part first: when it fails at once, nothing has been sent on.
    CompletableFuture<L> here = local.apply(split);
    if (split.isAllLocal()) {
      return here.thenApply(answers -> new RoutedAnswers<>(rpc, split, answers, List.of()));
    }
    List<CompletableFuture<OwnerAnswer<Resp>>> sent =
        split.owners().stream().map(part -> send(rpc, request, part)).toList();
    return CompletableFuture.allOf(Stream.concat(Stream.of(here), sent.stream())
            .toArray(CompletableFuture[]::new))
        .thenApply(done -> new RoutedAnswers<>(rpc, split, here.join(),
            sent.stream().map(CompletableFuture::join).toList()));
  }

  private IdSplit split(String namespace, List<String> ids) {
    if (forwardedByThisNode == null || ForwardedHeader.isForwarded()) {
      return IdSplit.allLocal(ids.size());
    }
    int shardCount = shards.shardCount();
    byte[] ns = namespace.getBytes(StandardCharsets.UTF_8);
    Unhandled[] forwardTo = new Unhandled[shardCount];
    boolean[] routed = new boolean[shardCount];
    int[] local = new int[ids.size()];
    int locals = 0;
    Map<String, PartBuilder> parts = new LinkedHashMap<>();
    for (int i = 0; i < ids.size(); i++) {
      int s = ShardHash.shardOf(ShardHash.digest(ns, ids.get(i)), shardCount);
      if (!routed[s]) {
        forwardTo[s] = forwardable(shards.route(s));
        routed[s] = true;
      }
      Unhandled why = forwardTo[s];
      if (why == null) {
        local[locals++] = i;
      } else {
        parts.computeIfAbsent(why.owner().address(), PartBuilder::new).add(i, why);
      }
    }
    return IdSplit.of(ids.size(), Arrays.copyOf(local, locals),
        parts.values().stream().map(PartBuilder::build).toList());
  }

  /** Why this node does not serve the shard, when another node at a known address does. */
  private Unhandled forwardable(ShardRoute route) {
    return switch (route) {
      case ShardRoute.Local here -> null;
      case ShardRoute.NotHere(Unhandled why) -> why.owner() != null
          && !why.owner().address().isEmpty() && !why.owner().nodeId().equals(selfNodeId)
          ? why : null;
    };
  }

  private static final class PartBuilder {
    private final String address;
    private final List<Integer> positions = new ArrayList<>();
    private final List<Unhandled> why = new ArrayList<>();

    PartBuilder(String address) {
      this.address = address;
    }

    void add(int position, Unhandled reason) {
      positions.add(position);
      why.add(reason);
    }

    IdSplit.OwnerPart build() {
      return new IdSplit.OwnerPart(
          address, positions.stream().mapToInt(Integer::intValue).toArray(), List.copyOf(why));
    }
  }

  /** Sends one owner its part; the answer never fails, a failure is carried in it. */
  private <Req, Resp> CompletableFuture<OwnerAnswer<Resp>> send(
      PerIdRpc<Req, Resp, ?> rpc, Req whole, IdSplit.OwnerPart part) {
    CompletableFuture<OwnerAnswer<Resp>> answer = new CompletableFuture<>();
    ManagedChannel channel = channels.channel(part.address());
    if (channel == null) {
      fail(rpc, part, answer, Status.UNAVAILABLE.withDescription("this node is stopping"));
      return answer;
    }
    DedupeServiceStub stub = DedupeServiceGrpc.newStub(channel).withInterceptors(forwardedByThisNode);
    // gRPC would take the deadline from the current context by itself; said here, because the
    // sub-request must not outlive the caller's.
    Deadline deadline = Context.current().getDeadline();
    if (deadline != null) {
      stub = stub.withDeadline(deadline);
    }
    try {
      rpc.call().send(stub, rpc.part().apply(whole, part.positions()), new StreamObserver<>() {
        private Resp reply;

        @Override
        public void onNext(Resp value) {
          reply = value;
        }

        @Override
        public void onError(Throwable t) {
          fail(rpc, part, answer, Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
          int answered = reply == null ? 0 : rpc.items().apply(reply).size();
          if (answered != part.positions().length) {
            fail(rpc, part, answer, Status.INTERNAL.withDescription(
                "it answered " + answered + " results for " + part.positions().length + " ids"));
            return;
          }
          metrics.recordForward(rpc.rpc(), part.positions().length, null);
          answer.complete(new OwnerAnswer<>(part, reply, null));
        }
      });
    } catch (RuntimeException e) {
      fail(rpc, part, answer, Status.fromThrowable(e));
    }
    return answer;
  }

  private <Resp> void fail(PerIdRpc<?, Resp, ?> rpc, IdSplit.OwnerPart part,
      CompletableFuture<OwnerAnswer<Resp>> answer, Status status) {
    metrics.recordForward(rpc.rpc(), part.positions().length,
        status.getCode().name().toLowerCase(Locale.ROOT));
    answer.complete(new OwnerAnswer<>(part, null,
        "forwarding to " + part.address() + " failed: " + PeerChannels.describe(status)));
  }
}
