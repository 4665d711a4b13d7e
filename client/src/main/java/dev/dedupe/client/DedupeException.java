package dev.dedupe.client;

import io.grpc.Status;
import java.util.Objects;

/**
 * A dedupe call failed: the server refused it, or it could not be completed within the retry
 * policy. Carries the gRPC {@link Status} of the last attempt; the message says what was being
 * done, in which namespace, against which address and after how many attempts.
 *
 * <pre>{@code
 * try {
 *   client.checkAndInsert("orders", orderId);
 * } catch (DedupeException e) {
 *   if (e.code() == Status.Code.INVALID_ARGUMENT) {
 *     deadLetter(message, e.getMessage());      // a bad id: retrying cannot help
 *   } else {
 *     nack(message);                            // the service is unreachable or overloaded
 *   }
 * }
 * }</pre>
 *
 * <p>Subclasses: {@link LeaseLostException} (a lease operation found the lease gone),
 * {@link PartialBatchException} (part of a multi-id call failed),
 * {@link PendingLimitExceededException} (the client's own memory bound).
 */
public class DedupeException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** Not serializable; a deserialized exception reports UNKNOWN. */
  private final transient Status status;

  /**
   * Creates an exception.
   *
   * @param message what was being done and why it failed
   * @param status the gRPC status of the failed call
   * @param cause the underlying failure, or null
   * @throws NullPointerException if status is null
   */
  public DedupeException(String message, Status status, Throwable cause) {
    super(message, cause);
    this.status = Objects.requireNonNull(status, "status");
  }

  /** The gRPC status of the (last) failed attempt. */
  public Status status() {
    return status == null ? Status.UNKNOWN : status;
  }

  /** The status code, for switching on. */
  public Status.Code code() {
    return status().getCode();
  }
}
