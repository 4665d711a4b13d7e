package dev.dedupe.server.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.rpc.BadRequest;
import dev.dedupe.server.testing.ManualClock;
import dev.dedupe.server.testing.InProcessNode;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckRequest;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceBlockingStub;
import dev.dedupe.v1.ForgetRequest;
import dev.dedupe.v1.GetNamespaceStatsRequest;
import dev.dedupe.v1.GetNamespaceStatsResponse;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.StatusProto;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The API as a client sees it, over an in-process channel to a node with real storage. */
class DedupeServiceTest {

  private static final long T0 = 1_795_428_000_000L;

  @TempDir Path dir;
  private final ManualClock clock = new ManualClock(T0);
  private InProcessNode server;
  private ManagedChannel channel;
  private DedupeServiceBlockingStub stub;

  private void start(Map<String, String> overrides) {
    server = InProcessNode.start(dir, clock, overrides);
    channel = server.channel;
    stub = server.stub();
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void checkAndInsertAnswersOnePerIdInRequestOrder() {
    start(Map.of());
    List<IdResult> first = insert("orders", "a", "b", "a");
    assertEquals(List.of(Verdict.VERDICT_NEW, Verdict.VERDICT_NEW, Verdict.VERDICT_DUPLICATE),
        first.stream().map(IdResult::getVerdict).toList());
    assertEquals(T0 / 1000, first.get(0).getFirstSeen().getSeconds());

    clock.advance(Duration.ofSeconds(7));
    List<IdResult> second = insert("orders", "c", "b");
    assertEquals(Verdict.VERDICT_NEW, second.get(0).getVerdict());
    assertEquals(T0 / 1000 + 7, second.get(0).getFirstSeen().getSeconds());
    assertEquals(Verdict.VERDICT_DUPLICATE, second.get(1).getVerdict());
    assertEquals(T0 / 1000, second.get(1).getFirstSeen().getSeconds());
  }

  @Test
  void checkRecordsNothingAndForgetUndoes() {
    start(Map.of());
    List<IdResult> checked = stub.check(CheckRequest.newBuilder()
        .setNamespace("orders").addMessageIds("a").build()).getResultsList();
    assertEquals(Verdict.VERDICT_NEW, checked.get(0).getVerdict());
    assertFalse(checked.get(0).hasFirstSeen());

    insert("orders", "a");
    assertEquals(List.of(true, false), stub.forget(ForgetRequest.newBuilder()
        .setNamespace("orders").addMessageIds("a").addMessageIds("b").build()).getRemovedList());
    assertEquals(Verdict.VERDICT_NEW, insert("orders", "a").get(0).getVerdict());
  }

  @Test
  void statsReportKeysAndWindows() {
    start(Map.of("window.default.hours", "12"));
    insert("orders", "a", "b", "c");
    GetNamespaceStatsResponse stats = stub.getNamespaceStats(
        GetNamespaceStatsRequest.newBuilder().setNamespace("orders").build());
    assertEquals(3, stats.getKeysHeld());
    assertEquals(Duration.ofHours(12).toSeconds(), stats.getWindow().getSeconds());
    assertEquals(Duration.ofHours(12).toSeconds(), stats.getEffectiveWindow().getSeconds());
    assertEquals(T0 / 1000, stats.getOldestBucketStart().getSeconds());
    assertEquals(0, stub.getNamespaceStats(
        GetNamespaceStatsRequest.newBuilder().setNamespace("unused").build()).getKeysHeld());
  }

  @Test
  void badNamespacesAreRejectedWithTheFieldAndTheLimit() {
    start(Map.of());
    assertInvalid("namespace", "empty", () -> insert(""));
    assertInvalid("namespace", "limit is 128", () -> insert("n".repeat(129), "a"));
    assertInvalid("namespace", "outside", () -> insert("has space", "a"));
    assertInvalid("namespace", "outside", () -> insert("nul\0byte", "a"));
    assertInvalid("namespace", "empty", () -> stub.getNamespaceStats(
        GetNamespaceStatsRequest.newBuilder().build()));
  }

  @Test
  void badIdsAreRejectedAndNothingOfTheRequestIsRecorded() {
    start(Map.of());
    // 'é' is two bytes: 129 of them are 258 bytes, over the 256-byte limit though 129 chars.
    assertInvalid("message_ids[2]", "256 bytes", () -> insert("orders", "a", "b", "é".repeat(129)));
    assertInvalid("message_ids[1]", "empty", () -> insert("orders", "c", ""));
    assertInvalid("message_ids", "limit is 10000",
        () -> insert("orders", Collections.nCopies(10_001, "x").toArray(String[]::new)));
    // The valid ids of the rejected requests were not recorded.
    assertEquals(List.of(Verdict.VERDICT_NEW, Verdict.VERDICT_NEW, Verdict.VERDICT_NEW,
            Verdict.VERDICT_NEW),
        insert("orders", "a", "b", "c", "x").stream().map(IdResult::getVerdict).toList());
    // Exactly at the limits is fine.
    assertEquals(1, insert("orders", "é".repeat(128)).size());
    assertEquals(10_000, insert("orders", Collections.nCopies(10_000, "y").toArray(String[]::new)).size());
  }

  @Test
  void limitsAreConfigurable() {
    start(Map.of("limits.batch.max-ids", "3", "limits.message-id.max-bytes", "4",
        "limits.namespace.max-chars", "5"));
    assertInvalid("message_ids", "limit is 3", () -> insert("ns", "a", "b", "c", "d"));
    assertInvalid("message_ids[0]", "4 bytes", () -> insert("ns", "abcde"));
    assertInvalid("namespace", "limit is 5", () -> insert("sixsix", "a"));
    assertEquals(3, insert("ns", "a", "b", "abcd").size());
  }

  @Test
  void malformedMessagesAreRefusedAndTheServerKeepsServing() {
    start(Map.of());
    // A CheckAndInsertRequest whose message id is not valid UTF-8 (0xC3 0x28), and plain garbage.
    byte[] badUtf8 = {0x0a, 0x01, 'n', 0x12, 0x02, (byte) 0xC3, 0x28};
    byte[] garbage = {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x01};
    for (byte[] body : List.of(badUtf8, garbage)) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> io.grpc.stub.ClientCalls.blockingUnaryCall(
              channel, RAW_CHECK_AND_INSERT, io.grpc.CallOptions.DEFAULT, body));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
      assertTrue(e.getStatus().getDescription().contains("not a valid"), e.getStatus().toString());
    }
    assertEquals(Verdict.VERDICT_NEW, insert("n", "a").get(0).getVerdict());
  }

  private static final io.grpc.MethodDescriptor.Marshaller<byte[]> BYTES =
      new io.grpc.MethodDescriptor.Marshaller<>() {
        @Override
        public java.io.InputStream stream(byte[] value) {
          return new java.io.ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(java.io.InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }
      };

  private static final io.grpc.MethodDescriptor<byte[], byte[]> RAW_CHECK_AND_INSERT =
      io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
          .setFullMethodName(DedupeServiceGrpc.getCheckAndInsertMethod().getFullMethodName())
          .setRequestMarshaller(BYTES)
          .setResponseMarshaller(BYTES)
          .build();

  @Test
  void servesTheStandardHealthService() {
    start(Map.of());
    var health = HealthGrpc.newBlockingStub(channel);
    assertEquals(ServingStatus.SERVING,
        health.check(HealthCheckRequest.newBuilder().build()).getStatus());
    assertEquals(ServingStatus.SERVING, health.check(HealthCheckRequest.newBuilder()
        .setService(DedupeServiceGrpc.SERVICE_NAME).build()).getStatus());
  }

  @Test
  void servesReflectionSoGrpcurlWorksUnchanged() throws Exception {
    start(Map.of());
    CompletableFuture<List<String>> services = new CompletableFuture<>();
    List<String> names = new ArrayList<>();
    StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
        .serverReflectionInfo(new StreamObserver<>() {
          @Override
          public void onNext(ServerReflectionResponse r) {
            r.getListServicesResponse().getServiceList().stream()
                .map(ServiceResponse::getName).forEach(names::add);
          }

          @Override
          public void onError(Throwable t) {
            services.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            services.complete(names);
          }
        });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    requests.onCompleted();
    List<String> listed = services.get(30, TimeUnit.SECONDS);
    assertTrue(listed.contains("dedupe.v1.DedupeService"), listed.toString());
    assertTrue(listed.contains("grpc.health.v1.Health"), listed.toString());
  }

  private List<IdResult> insert(String namespace, String... ids) {
    return stub.checkAndInsert(CheckAndInsertRequest.newBuilder()
        .setNamespace(namespace).addAllMessageIds(List.of(ids)).build()).getResultsList();
  }

  private static void assertInvalid(String field, String messagePart, Runnable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains(messagePart), e.getStatus().getDescription());
    com.google.rpc.Status details = StatusProto.fromThrowable(e);
    BadRequest badRequest;
    try {
      badRequest = details.getDetails(0).unpack(BadRequest.class);
    } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
      throw new AssertionError(ex);
    }
    assertEquals(field, badRequest.getFieldViolations(0).getField());
  }
}
