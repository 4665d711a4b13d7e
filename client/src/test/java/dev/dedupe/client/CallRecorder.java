package dev.dedupe.client;

import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.WatchShardMapResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

/**
 * A test interceptor: records every request message per RPC, can drop the replies of the
 * first N calls of one RPC (the server has answered; the caller hears UNAVAILABLE, as when a
 * connection dies after the server did the work), and can rewrite the shard map it is told
 * (GetShardMap answers and WatchShardMap messages).
 */
final class CallRecorder implements ClientInterceptor {

  private final Map<String, List<Object>> requests = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> dropsLeft = new ConcurrentHashMap<>();
  private volatile UnaryOperator<GetShardMapResponse> mapRewrite = UnaryOperator.identity();

  /** Drops the replies of the next {@code n} calls of {@code method} ("CheckAndInsert", ...). */
  CallRecorder dropReplies(String method, int n) {
    dropsLeft.put(method, new AtomicInteger(n));
    return this;
  }

  CallRecorder rewriteShardMap(UnaryOperator<GetShardMapResponse> rewrite) {
    this.mapRewrite = rewrite;
    return this;
  }

  /** How many calls of {@code method} were started. */
  int calls(String method) {
    return requests(method).size();
  }

  @SuppressWarnings("unchecked")
  <T> List<T> requests(String method) {
    List<Object> list = requests.get(method);
    if (list == null) {
      return List.of();
    }
    synchronized (list) {
      return (List<T>) new ArrayList<>(list);
    }
  }

  List<CheckAndInsertRequest> inserts() {
    return requests("CheckAndInsert");
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(
      MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
    String name = method.getBareMethodName();
    AtomicInteger drops = dropsLeft.get(name);
    boolean drop = drops != null && drops.getAndDecrement() > 0;
    List<Object> log = requests.computeIfAbsent(name, n -> new ArrayList<>());
    return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
          @Override
          @SuppressWarnings("unchecked")
          public void onMessage(R message) {
            if (drop) {
              return; // the server answered; the caller never hears it
            }
            if (message instanceof GetShardMapResponse map) {
              message = (R) mapRewrite.apply(map);
            } else if (message instanceof WatchShardMapResponse watched) {
              // The watch stream carries the same map: rewrite it alike.
              GetShardMapResponse map = mapRewrite.apply(GetShardMapResponse.newBuilder()
                  .setShardCount(watched.getShardCount()).setHash(watched.getHash())
                  .addAllOwners(watched.getOwnersList()).build());
              message = (R) WatchShardMapResponse.newBuilder().setShardCount(map.getShardCount())
                  .setHash(map.getHash()).addAllOwners(map.getOwnersList()).build();
            }
            super.onMessage(message);
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            super.onClose(drop && status.isOk()
                ? Status.UNAVAILABLE.withDescription("reply dropped by the test") : status,
                trailers);
          }
        }, headers);
      }

      @Override
      public void sendMessage(Q message) {
        synchronized (log) {
          log.add(message);
        }
        super.sendMessage(message);
      }
    };
  }
}
