package dev.dedupe.server.rpc;

import dev.dedupe.server.shard.Caller;
import io.grpc.Context;
import io.grpc.Deadline;

/** The caller of a gRPC call, as the shard writers see it: gone once cancelled or past due. */
final class GrpcCaller {

  private GrpcCaller() {}

  /**
   * The caller of the call being served on this thread. Call it from the service method: the
   * call's {@link Context} is current only there.
   */
  static Caller current() {
    Context context = Context.current();
    Deadline deadline = context.getDeadline();
    // The context is cancelled when the deadline passes too, but by a timer that may run late
    // on a busy machine; the deadline itself is exact.
    return deadline == null
        ? context::isCancelled
        : () -> context.isCancelled() || deadline.isExpired();
  }
}
