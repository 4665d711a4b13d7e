package dev.dedupe.client;

import io.grpc.Status;
import java.time.Duration;

/**
 * The client already holds {@link DedupeClient.Builder#maxPendingIds} ids waiting for a batch
 * or a reply, and no room came free within {@link DedupeClient.Builder#maxBlock}. Nothing was
 * sent for the call that got it. It means the service (or the network) is slower than the
 * callers: slow the callers down, or raise the limit if memory allows.
 *
 * <pre>{@code
 * try {
 *   client.checkAndInsert("orders", id);
 * } catch (PendingLimitExceededException e) {
 *   channel.basicNack(tag, false, true);     // back-pressure: let the broker hold it
 * }
 * }</pre>
 */
public final class PendingLimitExceededException extends DedupeException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates an exception.
   *
   * @param requested ids the call asked room for
   * @param limit the client's maxPendingIds
   * @param waited how long the call waited for room
   */
  public PendingLimitExceededException(int requested, int limit, Duration waited) {
    super(message(requested, limit, waited),
        Status.RESOURCE_EXHAUSTED.withDescription(message(requested, limit, waited)), null);
  }

  private static String message(int requested, int limit, Duration waited) {
    return "no room for " + requested + " more id(s): the client already holds its limit of "
        + limit + " pending ids (maxPendingIds), and none came free within " + waited
        + " (maxBlock); nothing was sent";
  }
}
