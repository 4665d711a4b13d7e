package dev.dedupe.client;

import io.grpc.Status;

/**
 * A lease operation ({@link DedupeClient#commit}, {@link DedupeClient#release},
 * {@link DedupeClient#extendLease}) found that the caller's attempt token no longer holds the
 * id: the lease ran out and another attempt took the id, or the id was released, forgotten or
 * never leased by this token. The server answered FAILED_PRECONDITION for the id; such an answer
 * is never retried.
 *
 * <pre>{@code
 * try {
 *   client.commit("webhooks", eventId, decision.attemptToken(), response);
 * } catch (LeaseLostException e) {
 *   // The side effect ran, but too late: another consumer may have run it as well.
 *   metrics.increment("dedupe.lease_lost");
 * }
 * }</pre>
 */
public final class LeaseLostException extends DedupeException {

  private static final long serialVersionUID = 1L;

  /** The namespace of the id. */
  private final String namespace;
  /** The id concerned. */
  private final String messageId;
  /** The token that no longer holds the id. */
  private final String attemptToken;

  /**
   * Creates an exception.
   *
   * @param operation "Commit", "Release" or "ExtendLease"
   * @param namespace the id's namespace
   * @param messageId the id whose lease was lost
   * @param attemptToken the token that no longer holds it
   * @param reason the server's explanation
   */
  public LeaseLostException(
      String operation, String namespace, String messageId, String attemptToken, String reason) {
    super(operation + " of id '" + messageId + "' in namespace '" + namespace + "' with token "
            + attemptToken + " failed: " + reason,
        Status.FAILED_PRECONDITION.withDescription(reason), null);
    this.namespace = namespace;
    this.messageId = messageId;
    this.attemptToken = attemptToken;
  }

  /** The namespace of the id. */
  public String namespace() {
    return namespace;
  }

  /** The id whose lease was lost. */
  public String messageId() {
    return messageId;
  }

  /** The attempt token that no longer holds the id. */
  @Override
  public String attemptToken() {
    return attemptToken;
  }
}
