package dev.dedupe.server.moves;

/**
 * An admin request that cannot be done, with why in words an admin can act on. The API maps
 * it to a status in its one mapping: {@link Reason#INVALID_ARGUMENT} names the request field.
 */
public final class MoveRefusedException extends RuntimeException {

  /** What kind of refusal: the gRPC code it becomes. */
  public enum Reason {
    /** The request itself is wrong (a shard that does not exist, a node that is no replica). */
    INVALID_ARGUMENT,
    /** The request is fine but the cluster is not in a state to do it now. */
    FAILED_PRECONDITION,
    /** No such job. */
    NOT_FOUND,
    /** The cluster's coordination (ZooKeeper) could not be asked; try again. */
    UNAVAILABLE
  }

  private final Reason reason;
  private final String field;

  public MoveRefusedException(Reason reason, String field, String message) {
    super(message);
    this.reason = reason;
    this.field = field;
  }

  public static MoveRefusedException invalid(String field, String message) {
    return new MoveRefusedException(Reason.INVALID_ARGUMENT, field, message);
  }

  public static MoveRefusedException precondition(String message) {
    return new MoveRefusedException(Reason.FAILED_PRECONDITION, "", message);
  }

  public static MoveRefusedException unavailable(String message, Throwable cause) {
    MoveRefusedException e = new MoveRefusedException(Reason.UNAVAILABLE, "", message);
    e.initCause(cause);
    return e;
  }

  public Reason reason() {
    return reason;
  }

  /** The request field at fault, as the proto names it, or "". */
  public String field() {
    return field;
  }
}
