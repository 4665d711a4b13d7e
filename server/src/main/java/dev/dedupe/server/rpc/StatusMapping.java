package dev.dedupe.server.rpc;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import dev.dedupe.server.moves.MoveRefusedException;
import dev.dedupe.server.shard.CallerGaveUpException;
import dev.dedupe.server.shard.ShardOverloadedException;
import dev.dedupe.server.storage.StorageException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one mapping from the server's exceptions to gRPC statuses. */
public final class StatusMapping {

  private static final Logger log = LoggerFactory.getLogger(StatusMapping.class);

  private StatusMapping() {}

  /** The status a failed call answers with; also the outcome label its metrics use. */
  public static StatusRuntimeException toStatus(Throwable failure) {
    Throwable cause = unwrap(failure);
    com.google.rpc.Status.Builder status = com.google.rpc.Status.newBuilder();
    switch (cause) {
      case InvalidRequestException e -> {
        status.setCode(Code.INVALID_ARGUMENT_VALUE).setMessage(e.getMessage());
        status.addDetails(Any.pack(BadRequest.newBuilder()
            .addFieldViolations(BadRequest.FieldViolation.newBuilder()
                .setField(e.field())
                .setDescription(e.getMessage()))
            .build()));
      }
      case MoveRefusedException e -> {
        status.setCode(switch (e.reason()) {
          case INVALID_ARGUMENT -> Code.INVALID_ARGUMENT_VALUE;
          case FAILED_PRECONDITION -> Code.FAILED_PRECONDITION_VALUE;
          case NOT_FOUND -> Code.NOT_FOUND_VALUE;
          case UNAVAILABLE -> Code.UNAVAILABLE_VALUE;
        }).setMessage(e.getMessage());
        if (e.reason() == MoveRefusedException.Reason.INVALID_ARGUMENT && !e.field().isEmpty()) {
          status.addDetails(Any.pack(BadRequest.newBuilder()
              .addFieldViolations(BadRequest.FieldViolation.newBuilder()
                  .setField(e.field())
                  .setDescription(e.getMessage()))
              .build()));
        }
      }
      case CallerGaveUpException e ->
          status.setCode(Code.DEADLINE_EXCEEDED_VALUE).setMessage(e.getMessage());
      case ShardOverloadedException e ->
          status.setCode(Code.RESOURCE_EXHAUSTED_VALUE).setMessage(e.getMessage());
      case StorageException e ->
          status.setCode(Code.UNAVAILABLE_VALUE).setMessage(e.getMessage());
      default -> {
        log.error("unexpected failure", cause);
        status.setCode(Code.INTERNAL_VALUE).setMessage("internal error: " + cause);
      }
    }
    return StatusProto.toStatusRuntimeException(status.build());
  }

  static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }
}
