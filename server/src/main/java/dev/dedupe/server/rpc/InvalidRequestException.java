package dev.dedupe.server.rpc;

/**
 * A request that breaks a limit or a format rule. Answered INVALID_ARGUMENT with the field
 * named, and nothing of the request is recorded.
 */
public final class InvalidRequestException extends RuntimeException {

  private final String field;

  public InvalidRequestException(String field, String description) {
    super(description);
    this.field = field;
  }

  /** The request field at fault, as the proto names it ("namespace", "message_ids[3]"). */
  public String field() {
    return field;
  }
}
