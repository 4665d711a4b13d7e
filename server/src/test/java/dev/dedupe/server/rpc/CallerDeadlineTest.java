package dev.dedupe.server.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.testing.TestConfigs;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A request whose caller gave up before its shard decided it records nothing. A chaos run
 * found rounds recording ids after every caller's call had failed: those ids were then
 * DUPLICATE to everyone and NEW to no one, and their message was never processed.
 */
class CallerDeadlineTest {

  @TempDir Path dir;

  @Test
  void anIdWhoseCallerTimedOutBeforeItsRoundIsNotRecorded() throws Exception {
    List<Context> serverCalls = new CopyOnWriteArrayList<>();
    ServerInterceptor remember = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(
          ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        serverCalls.add(Context.current());
        return next.startCall(call, headers);
      }
    };
    String name = InProcessServerBuilder.generateName();
    try (DedupeNode node = DedupeNode.start(
        TestConfigs.forDataDir(dir, Map.of("storage.shards", "1")), InstantSource.system(),
        InProcessServerBuilder.forName(name).intercept(remember))) {
      ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
      try {
        var stub = DedupeServiceGrpc.newBlockingStub(channel);
        // Park the shard's writer so that the call waits in its queue past its deadline.
        CountDownLatch hold = new CountDownLatch(1);
        var parked = node.shards().writer(0).submit(store -> {
          try {
            hold.await(120, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return null;
        });
        StatusRuntimeException late = assertThrows(StatusRuntimeException.class,
            () -> stub.withDeadlineAfter(300, TimeUnit.MILLISECONDS)
                .checkAndInsert(request("late", "mine")));
        assertEquals(Status.Code.DEADLINE_EXCEEDED, late.getStatus().getCode());
        // The server's side of the call must know it too before the writer runs again.
        awaitServerCallCancelled(serverCalls);
        hold.countDown();
        parked.get(60, TimeUnit.SECONDS);

        IdResult retry = stub.withDeadlineAfter(30, TimeUnit.SECONDS)
            .checkAndInsert(request("late", "mine")).getResults(0);
        assertEquals(Verdict.VERDICT_NEW, retry.getVerdict());
        assertFalse(retry.getReplay(), "nothing was recorded for the call that gave up");
      } finally {
        channel.shutdownNow();
      }
    }
  }

  private static CheckAndInsertRequest request(String id, String token) {
    return CheckAndInsertRequest.newBuilder().setNamespace("orders").addMessageIds(id)
        .setAttemptToken(token).build();
  }

  private static void awaitServerCallCancelled(List<Context> calls) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (calls.isEmpty() || !calls.get(calls.size() - 1).isCancelled()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the server never saw the call's deadline pass");
      }
      Thread.sleep(10);
    }
  }
}
