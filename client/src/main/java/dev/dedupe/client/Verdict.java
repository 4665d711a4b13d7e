package dev.dedupe.client;

/**
 * What the caller should do with one message id, as {@link DedupeClient#checkAndInsert} (or
 * {@link DedupeClient#check}) decided it.
 *
 * <pre>{@code
 * switch (client.checkAndInsert("payments.charge", orderId).verdict()) {
 *   case NEW -> charge(order);                 // yours: do the side effect
 *   case DUPLICATE -> log.info("already done");
 *   case IN_PROGRESS -> redeliverLater();      // someone else holds a lease on it
 *   case CONFLICT -> alert("id reused for a different payload");
 * }
 * }</pre>
 */
public enum Verdict {
  /**
   * The id was not recorded within the window and is now recorded for you (or, with
   * {@link Decision#replay()}, was recorded by an earlier attempt of the same request):
   * perform the side effect.
   */
  NEW,
  /**
   * The id was recorded within the window by another call: skip the side effect, and use
   * {@link Decision#result()} if the recorder stored one.
   */
  DUPLICATE,
  /**
   * Another attempt holds a lease on the id until {@link Decision#leaseExpiresAt()}: do not
   * perform the side effect now; redeliver the message after that time.
   */
  IN_PROGRESS,
  /**
   * The id was recorded with a different fingerprint, so an id was reused for a different
   * payload: do not perform the side effect, and report the bug.
   */
  CONFLICT;

  static Verdict fromProto(dev.dedupe.v1.Verdict verdict) {
    return switch (verdict) {
      case VERDICT_NEW -> NEW;
      case VERDICT_DUPLICATE -> DUPLICATE;
      case VERDICT_IN_PROGRESS -> IN_PROGRESS;
      case VERDICT_CONFLICT -> CONFLICT;
      case VERDICT_UNSPECIFIED, UNRECOGNIZED -> null;
    };
  }
}
