package dev.dedupe.server.core;

/**
 * The decision for one id.
 *
 * @param verdict what the caller should do
 * @param firstSeenMillis when the id was first recorded (epoch milliseconds), or
 *     {@link #NOT_RECORDED} when a read-only Check finds it new
 */
public record IdResult(Verdict verdict, long firstSeenMillis) {

  public static final long NOT_RECORDED = -1;

  public static IdResult newAt(long millis) {
    return new IdResult(Verdict.NEW, millis);
  }

  public static IdResult duplicateOf(long firstSeenMillis) {
    return new IdResult(Verdict.DUPLICATE, firstSeenMillis);
  }
}
