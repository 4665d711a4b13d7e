package dev.dedupe.client;

import io.grpc.Status;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
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
 * <h2>Retrying a failed checkAndInsert later</h2>
 * A failed checkAndInsert may still have recorded some of its ids: the server recorded them,
 * and every reply was lost. Retried at once with a fresh token, those ids would come back
 * DUPLICATE, and their side effect would never happen. So the exception carries the attempt
 * token(s) the failed call's ids went out with: retry later with
 * {@link InsertOptions#withAttemptToken} and the ids the failed call recorded come back NEW
 * (with {@link Decision#replay()} set), the others as they stand.
 *
 * <pre>{@code
 * InsertOptions options = token == null ? InsertOptions.none()   // token: kept with the message
 *     : InsertOptions.none().withAttemptToken(token);
 * try {
 *   if (client.checkAndInsert("orders", orderId, options).isNew()) fulfil(order);
 *   ack(message);
 * } catch (DedupeException e) {
 *   requeue(message, e.attemptToken());   // the redelivery retries with this token
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
  /** Per id of the failed call, in request order: the token it was sent with, or null. */
  private final List<String> attemptTokens;

  /**
   * Creates an exception.
   *
   * @param message what was being done and why it failed
   * @param status the gRPC status of the failed call
   * @param cause the underlying failure, or null
   * @throws NullPointerException if status is null
   */
  public DedupeException(String message, Status status, Throwable cause) {
    this(message, status, cause, List.of());
  }

  /**
   * Creates an exception for a failed CheckAndInsert, with the attempt tokens its ids were
   * sent with.
   *
   * @param message what was being done and why it failed
   * @param status the gRPC status of the failed call
   * @param cause the underlying failure, or null
   * @param attemptTokens one entry per id of the failed call, in request order: the attempt
   *     token the id was sent with, or null where the id was decided or never sent; copied
   * @throws NullPointerException if status or attemptTokens is null
   */
  public DedupeException(
      String message, Status status, Throwable cause, List<String> attemptTokens) {
    super(message, cause);
    this.status = Objects.requireNonNull(status, "status");
    this.attemptTokens = Collections.unmodifiableList(
        new ArrayList<>(Objects.requireNonNull(attemptTokens, "attemptTokens")));
  }

  /** The gRPC status of the (last) failed attempt. */
  public Status status() {
    return status == null ? Status.UNKNOWN : status;
  }

  /**
   * The attempt token the failed call's ids were sent with, to retry later with
   * {@link InsertOptions#withAttemptToken} (ids it recorded then come back NEW, marked replay,
   * rather than DUPLICATE). Null when the call sent nothing, was not a CheckAndInsert, or when
   * the ids of a multi-id call went out under several tokens (they were split over several
   * batches): then see {@link #attemptTokens()}.
   */
  public String attemptToken() {
    String only = null;
    for (String token : attemptTokens()) {
      if (token != null) {
        if (only != null && !only.equals(token)) {
          return null;
        }
        only = token;
      }
    }
    return only;
  }

  /**
   * For a failed CheckAndInsert, one entry per id of the call, in request order: the attempt
   * token that id was last sent with, or null where the id was decided (see
   * {@link PartialBatchException#decisions()}) or never sent. Empty for other calls.
   * Unmodifiable.
   */
  public List<String> attemptTokens() {
    return attemptTokens == null ? List.of() : attemptTokens;
  }

  /** The status code, for switching on. */
  public Status.Code code() {
    return status().getCode();
  }
}
