package dev.dedupe.server.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.rpc.Code;
import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.ServerConfig;
import dev.dedupe.server.core.ShardDirectory;
import dev.dedupe.server.core.ShardRoute;
import dev.dedupe.server.decision.ShardMap;
import dev.dedupe.server.decision.Unhandled;
import dev.dedupe.server.ops.ServerMetrics;
import dev.dedupe.server.testing.ManualClock;
import dev.dedupe.server.testing.StorageFixture;
import dev.dedupe.server.testing.TestConfigs;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckAndInsertResponse;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The forwarder against peers over real gRPC sockets, with a shard directory that keeps shard
 * 0 here and names another node as the owner of the rest: what a sub-request carries, and
 * what the caller hears when the owner cannot be reached.
 */
class ForwarderTest {

  private static final int SHARDS = 4;
  private static final String NS = "forwarder.test";

  @TempDir Path dir;
  private StorageFixture storage;
  private PrometheusMeterRegistry registry;
  private ServerMetrics metrics;
  private PeerChannels channels;
  private Server peer;
  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();

  @BeforeEach
  void start() {
    ServerConfig config = TestConfigs.forDataDir(dir, Map.of());
    storage = new StorageFixture(config, new ManualClock(1_795_428_000_000L));
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    metrics = new ServerMetrics(
        registry, storage.retention, config.windows(), storage.shards, storage.resources);
    channels = new PeerChannels(a -> NettyChannelBuilder.forTarget(a).usePlaintext().build());
  }

  @AfterEach
  void stop() throws Exception {
    channels.close();
    if (peer != null) {
      peer.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    timers.shutdownNow();
    metrics.close();
    storage.close();
  }

  /** Shard 0 is served here; node-9 at {@code address} owns the others, at epoch 3. */
  private static ShardDirectory ownerAt(String address) {
    return new ShardDirectory() {
      @Override
      public int shardCount() {
        return SHARDS;
      }

      @Override
      public ShardRoute route(int shard) {
        if (shard == 0) {
          return new ShardRoute.Local(null); // the test's own local part ignores the writer
        }
        return new ShardRoute.NotHere(new Unhandled(
            "shard " + shard + " is owned by node node-9 at " + address + ", epoch 3",
            new ShardMap.Owner(shard, address, 3, "node-9")));
      }

      @Override
      public ShardMap map() {
        throw new UnsupportedOperationException();
      }

      @Override
      public AutoCloseable onMapChange(Runnable listener) {
        return () -> { };
      }

      @Override
      public boolean isServing() {
        return true;
      }
    };
  }

  private static List<String> ids() {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      ids.add("id-" + i);
    }
    return ids;
  }

  private static boolean local(String id) {
    return ShardHash.shardOf(NS, id, SHARDS) == 0;
  }

  /** Routes {@code request} in a call context with a 20 s deadline; local ids answer NEW. */
  private CheckAndInsertResponse route(Forwarder forwarder, CheckAndInsertRequest request)
      throws Exception {
    Context.CancellableContext call =
        Context.current().withDeadline(Deadline.after(20, TimeUnit.SECONDS), timers);
    try {
      return call.call(() -> forwarder.route(PerIdRpc.CHECK_AND_INSERT, request, NS,
              request.getMessageIdsList(), split -> {
                List<String> here = split.local(request.getMessageIdsList());
                assertTrue(here.stream().allMatch(ForwarderTest::local), "only shard 0 stays");
                return CompletableFuture.completedFuture(here);
              }))
          .get(30, TimeUnit.SECONDS)
          .reply(here -> CheckAndInsertResponse.newBuilder().addAllResults(here.stream()
              .map(id -> IdResult.newBuilder().setVerdict(Verdict.VERDICT_NEW).build()).toList())
              .build());
    } finally {
      call.cancel(null);
    }
  }

  @Test
  void anOwnerThatCannotBeReachedLeavesItsIdsUnavailableWithTheHintAndTheReason() throws Exception {
    int port;
    try (ServerSocket nothing = new ServerSocket(0)) {
      port = nothing.getLocalPort(); // closed below: nothing listens there
    }
    String address = "127.0.0.1:" + port;
    List<String> ids = ids();
    CheckAndInsertResponse reply = route(new Forwarder(ownerAt(address), "node-0", channels, metrics),
        CheckAndInsertRequest.newBuilder().setNamespace(NS).addAllMessageIds(ids).build());

    assertEquals(ids.size(), reply.getResultsCount());
    int forwarded = 0;
    for (int i = 0; i < ids.size(); i++) {
      IdResult r = reply.getResults(i);
      if (local(ids.get(i))) {
        assertEquals(Verdict.VERDICT_NEW, r.getVerdict(), ids.get(i) + ": " + r);
        continue;
      }
      forwarded++;
      assertEquals(Code.UNAVAILABLE_VALUE, r.getStatus().getCode(), r.toString());
      assertEquals(ShardHash.shardOf(NS, ids.get(i), SHARDS), r.getStatus().getOwner().getShard());
      assertEquals(address, r.getStatus().getOwner().getAddress());
      assertEquals(3, r.getStatus().getOwner().getEpoch());
      assertEquals("node-9", r.getStatus().getOwner().getNodeId());
      String message = r.getStatus().getMessage();
      assertTrue(message.contains("owned by node node-9")
          && message.contains("forwarding to " + address + " failed: UNAVAILABLE"), message);
    }
    assertTrue(forwarded > 0 && forwarded < ids.size(), "both kinds of ids: " + forwarded);
    assertEquals(forwarded, registry.get("dedupe.forwarded.ids")
        .tags("rpc", "check_and_insert", "outcome", "failed").counter().count());
    assertEquals(1, registry.get("dedupe.forward.failures")
        .tags("rpc", "check_and_insert", "code", "unavailable").counter().count(),
        "one sub-request per owner address");
  }

  @Test
  void aSubRequestCarriesTheRequestsFieldsTheHeaderAndTheCallersDeadline() throws Exception {
    AtomicReference<CheckAndInsertRequest> received = new AtomicReference<>();
    AtomicReference<String> forwardedBy = new AtomicReference<>();
    AtomicReference<Deadline> deadline = new AtomicReference<>();
    ServerInterceptor headers = new ServerInterceptor() {
      @Override
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
          ServerCall<ReqT, RespT> call, Metadata metadata, ServerCallHandler<ReqT, RespT> next) {
        forwardedBy.set(metadata.get(ForwardedHeader.KEY));
        return Contexts.interceptCall(Context.current(), call, metadata, next);
      }
    };
    // The owner answers DUPLICATE with its id's fingerprint as the result, to show the pairs.
    DedupeServiceGrpc.DedupeServiceImplBase owner = new DedupeServiceGrpc.DedupeServiceImplBase() {
      @Override
      public void checkAndInsert(
          CheckAndInsertRequest request, StreamObserver<CheckAndInsertResponse> answer) {
        received.set(request);
        deadline.set(Context.current().getDeadline());
        CheckAndInsertResponse.Builder reply = CheckAndInsertResponse.newBuilder();
        for (int i = 0; i < request.getMessageIdsCount(); i++) {
          reply.addResults(IdResult.newBuilder().setVerdict(Verdict.VERDICT_DUPLICATE)
              .setResult(request.getFingerprints(i)));
        }
        answer.onNext(reply.build());
        answer.onCompleted();
      }
    };
    peer = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(owner, headers)).build().start();
    String address = "127.0.0.1:" + peer.getPort();

    List<String> ids = ids();
    CheckAndInsertRequest.Builder request = CheckAndInsertRequest.newBuilder().setNamespace(NS)
        .addAllMessageIds(ids).setAttemptToken("token-1")
        .setLeaseDuration(com.google.protobuf.Duration.newBuilder().setSeconds(30));
    ids.forEach(id -> request.addFingerprints(ByteString.copyFromUtf8("fp:" + id)));
    CheckAndInsertResponse reply =
        route(new Forwarder(ownerAt(address), "node-0", channels, metrics), request.build());

    CheckAndInsertRequest sub = received.get();
    assertNotNull(sub, "the owner was asked");
    assertEquals("node-0", forwardedBy.get(), "the sub-request says who forwarded it");
    assertNotNull(deadline.get(), "the caller's deadline travels");
    assertTrue(deadline.get().timeRemaining(TimeUnit.SECONDS) <= 20, deadline.get().toString());
    assertEquals(NS, sub.getNamespace());
    assertEquals("token-1", sub.getAttemptToken());
    assertEquals(30, sub.getLeaseDuration().getSeconds());
    assertEquals(ids.stream().filter(id -> !local(id)).toList(), sub.getMessageIdsList(),
        "one sub-request with every forwarded id, in request order");
    for (int i = 0; i < ids.size(); i++) {
      IdResult r = reply.getResults(i);
      if (local(ids.get(i))) {
        assertEquals(Verdict.VERDICT_NEW, r.getVerdict());
      } else {
        assertEquals(Verdict.VERDICT_DUPLICATE, r.getVerdict(), "the owner's answer, as it is");
        assertEquals("fp:" + ids.get(i), r.getResult().toStringUtf8(),
            "each id kept its own fingerprint and its place in the reply");
      }
    }
    assertEquals(sub.getMessageIdsCount(), registry.get("dedupe.forwarded.ids")
        .tags("rpc", "check_and_insert", "outcome", "answered").counter().count());
  }

  @Test
  void aStandaloneNodeForwardsNothing() throws Exception {
    List<String> ids = ids();
    Forwarder standalone = new Forwarder(ownerAt("127.0.0.1:1"), "", new PeerChannels(a -> {
      throw new AssertionError("a standalone node asked " + a);
    }), metrics);
    Context.CancellableContext call = Context.current().withCancellation();
    try {
      IdSplit[] seen = new IdSplit[1];
      call.call(() -> standalone.route(PerIdRpc.CHECK_AND_INSERT,
          CheckAndInsertRequest.newBuilder().setNamespace(NS).addAllMessageIds(ids).build(), NS, ids,
          split -> {
            seen[0] = split;
            return CompletableFuture.completedFuture(split.local(ids));
          })).get(30, TimeUnit.SECONDS);
      assertTrue(seen[0].isAllLocal(), "every id goes to this node's engine");
    } finally {
      call.cancel(null);
    }
  }
}
