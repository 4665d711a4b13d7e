package dev.dedupe.server.rpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * The {@code dedupe-forwarded-by: <node id>} header that marks a sub-request one node sent
 * another on behalf of a caller. A node that receives one answers for its own shards only and
 * never forwards again: forwarding is one hop, so two nodes with different views of the shard
 * map cannot pass ids back and forth.
 */
final class ForwardedHeader implements ServerInterceptor {

  static final Metadata.Key<String> KEY =
      Metadata.Key.of("dedupe-forwarded-by", Metadata.ASCII_STRING_MARSHALLER);

  /** The forwarding node's id, for the call being served; null when a caller sent it. */
  private static final Context.Key<String> FORWARDED_BY = Context.key("dedupe-forwarded-by");

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    String by = headers.get(KEY);
    if (by == null) {
      return next.startCall(call, headers);
    }
    return Contexts.interceptCall(
        Context.current().withValue(FORWARDED_BY, by), call, headers, next);
  }

  /** Whether the call served on this thread was forwarded by another node. */
  static boolean isForwarded() {
    return FORWARDED_BY.get() != null;
  }

  /** The headers a node sends with what it forwards. */
  static Metadata sentBy(String nodeId) {
    Metadata headers = new Metadata();
    headers.put(KEY, nodeId);
    return headers;
  }
}
