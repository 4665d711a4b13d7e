package dev.dedupe.server.decision;

/**
 * The decision for one id.
 *
 * @param verdict what the caller should do
 * @param firstSeenMillis when the id was first recorded (epoch milliseconds), or
 *     {@link #NOT_RECORDED} when a read-only Check finds it new
 * @param replay true when NEW answers a retry of the attempt token that recorded the id
 * @param leaseExpiresMillis the end of the lease for NEW-with-lease and IN_PROGRESS; 0 if none
 * @param result the result Commit stored, for DUPLICATE; empty if none
 * @param unhandled why this node did not decide the id, or null when it did (the verdict is
 *     then null)
 */
public record IdResult(
    Verdict verdict, long firstSeenMillis, boolean replay, long leaseExpiresMillis, byte[] result,
    Unhandled unhandled) {

  public IdResult(
      Verdict verdict, long firstSeenMillis, boolean replay, long leaseExpiresMillis, byte[] result) {
    this(verdict, firstSeenMillis, replay, leaseExpiresMillis, result, null);
  }

  public static IdResult notHandled(Unhandled why) {
    return new IdResult(null, NOT_RECORDED, false, 0, NONE, why);
  }

  public static final long NOT_RECORDED = -1;
  private static final byte[] NONE = new byte[0];

  public static IdResult newAt(long millis) {
    return new IdResult(Verdict.NEW, millis, false, 0, NONE);
  }

  public static IdResult duplicateOf(long firstSeenMillis) {
    return new IdResult(Verdict.DUPLICATE, firstSeenMillis, false, 0, NONE);
  }
}
