package dev.dedupe.server.rpc;

import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Answers INVALID_ARGUMENT for a request that is not a valid message (bad protobuf, invalid
 * UTF-8 in a string field) instead of grpc-java's UNKNOWN "Application error processing RPC":
 * a marshaller that throws while parsing cannot choose the status, so each method takes raw
 * bytes here and parses them itself. The service's schema stays attached, so reflection still
 * describes it.
 *
 * <p>Workaround for how grpc-java closes a call whose request fails to parse (described in
 * grpc/grpc-java#6108: the exception is caught in ServerImpl's listener and the stream closed
 * with a status the application cannot choose). Remove once a parse failure can carry its own
 * status: {@code DedupeServiceTest.malformedMessagesAreRefusedAndTheServerKeepsServing} says
 * when (it must still see INVALID_ARGUMENT without this guard).
 */
final class MalformedRequestGuard {

  private static final MethodDescriptor.Marshaller<byte[]> RAW = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  private MalformedRequestGuard() {}

  static ServerServiceDefinition guard(ServerServiceDefinition service) {
    ServiceDescriptor original = service.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
        .setSchemaDescriptor(original.getSchemaDescriptor());
    java.util.List<ServerMethodDefinition<?, ?>> guarded = new java.util.ArrayList<>();
    for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
      ServerMethodDefinition<byte[], ?> raw = guardMethod(method);
      descriptor.addMethod(raw.getMethodDescriptor());
      guarded.add(raw);
    }
    ServerServiceDefinition.Builder builder = ServerServiceDefinition.builder(descriptor.build());
    guarded.forEach(builder::addMethod);
    return builder.build();
  }

  private static <ReqT, RespT> ServerMethodDefinition<byte[], RespT> guardMethod(
      ServerMethodDefinition<ReqT, RespT> method) {
    MethodDescriptor<ReqT, RespT> typed = method.getMethodDescriptor();
    MethodDescriptor<byte[], RespT> raw = typed.toBuilder(RAW, typed.getResponseMarshaller()).build();
    ServerCallHandler<byte[], RespT> handler = (call, headers) -> {
      TypedCall<ReqT, RespT> typedCall = new TypedCall<>(call, typed);
      ServerCall.Listener<ReqT> inner = method.getServerCallHandler().startCall(typedCall, headers);
      return new ServerCall.Listener<>() {
        private boolean rejected;

        @Override
        public void onMessage(byte[] message) {
          ReqT request;
          try {
            request = typed.parseRequest(new ByteArrayInputStream(message));
          } catch (RuntimeException e) {
            rejected = true;
            call.close(Status.INVALID_ARGUMENT.withDescription(
                "request is not a valid " + typed.getFullMethodName() + " message: "
                    + rootMessage(e)), new Metadata());
            return;
          }
          inner.onMessage(request);
        }

        @Override
        public void onHalfClose() {
          if (!rejected) {
            inner.onHalfClose();
          }
        }

        @Override
        public void onCancel() {
          inner.onCancel();
        }

        @Override
        public void onComplete() {
          inner.onComplete();
        }

        @Override
        public void onReady() {
          inner.onReady();
        }
      };
    };
    return ServerMethodDefinition.create(raw, handler);
  }

  private static String rootMessage(Throwable e) {
    while (e.getCause() != null) {
      e = e.getCause();
    }
    return e.getMessage();
  }

  /** Presents a raw-bytes call to the typed handler; responses pass through unchanged. */
  private static final class TypedCall<ReqT, RespT> extends ServerCall<ReqT, RespT> {
    private final ServerCall<byte[], RespT> call;
    private final MethodDescriptor<ReqT, RespT> method;

    TypedCall(ServerCall<byte[], RespT> call, MethodDescriptor<ReqT, RespT> method) {
      this.call = call;
      this.method = method;
    }

    @Override
    public void request(int numMessages) {
      call.request(numMessages);
    }

    @Override
    public void sendHeaders(Metadata headers) {
      call.sendHeaders(headers);
    }

    @Override
    public void sendMessage(RespT message) {
      call.sendMessage(message);
    }

    @Override
    public boolean isReady() {
      return call.isReady();
    }

    @Override
    public void close(Status status, Metadata trailers) {
      call.close(status, trailers);
    }

    @Override
    public boolean isCancelled() {
      return call.isCancelled();
    }

    @Override
    public void setMessageCompression(boolean enabled) {
      call.setMessageCompression(enabled);
    }

    @Override
    public void setCompression(String compressor) {
      call.setCompression(compressor);
    }

    @Override
    public Attributes getAttributes() {
      return call.getAttributes();
    }

    @Override
    public String getAuthority() {
      return call.getAuthority();
    }

    @Override
    public MethodDescriptor<ReqT, RespT> getMethodDescriptor() {
      return method;
    }
  }
}
