package dev.dedupe.server.cli;

import dev.dedupe.admin.v1.AdminServiceGrpc;
import dev.dedupe.admin.v1.AdminServiceGrpc.AdminServiceBlockingStub;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Calls a node's AdminService for the command line: one channel per command, a deadline per
 * call, and a failed call turned into the one line {@link Failures} words.
 */
final class AdminCalls implements AutoCloseable {

  private static final long DEADLINE_SECONDS = 15;

  private final String target;
  private final ManagedChannel channel;

  AdminCalls(String target) {
    this.target = target;
    this.channel = NettyChannelBuilder.forTarget(target).usePlaintext().build();
  }

  <T> T call(Function<AdminServiceBlockingStub, T> call) {
    try {
      return call.apply(AdminServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS));
    } catch (StatusRuntimeException e) {
      throw new Failures.CommandFailure(Failures.describe(e.getStatus(), target), e);
    }
  }

  @Override
  public void close() {
    channel.shutdownNow();
  }
}
