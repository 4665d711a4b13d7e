package dev.dedupe.server.storage;

/**
 * What the store holds for one id.
 *
 * @param state whether the side effect is done or leased
 * @param firstSeenMillis when the id was recorded (epoch milliseconds): its window starts here
 * @param token the attempt token that recorded it, or "" if none was given
 * @param leaseExpiresMillis when the lease ends, for {@link State#IN_PROGRESS}; 0 otherwise
 * @param fingerprint the payload fingerprint given when recorded; empty if none
 * @param result the result bytes Commit stored; empty if none
 */
public record StoredRecord(
    State state,
    long firstSeenMillis,
    String token,
    long leaseExpiresMillis,
    byte[] fingerprint,
    byte[] result) {

  static final byte[] NONE = new byte[0];

  /** The lifecycle of a record; absence is the third state. */
  public enum State {
    /** Recorded for good: DUPLICATE for everyone else until the window passes. */
    COMMITTED,
    /** Leased to {@link #token} until {@link #leaseExpiresMillis}. */
    IN_PROGRESS
  }

  public static StoredRecord committed(long firstSeenMillis, String token, byte[] fingerprint) {
    return new StoredRecord(State.COMMITTED, firstSeenMillis, token, 0, fingerprint, NONE);
  }

  public static StoredRecord leased(
      long firstSeenMillis, String token, long leaseExpiresMillis, byte[] fingerprint) {
    return new StoredRecord(State.IN_PROGRESS, firstSeenMillis, token, leaseExpiresMillis,
        fingerprint, NONE);
  }

  public StoredRecord commit(byte[] storedResult) {
    return new StoredRecord(State.COMMITTED, firstSeenMillis, token, 0, fingerprint, storedResult);
  }

  public StoredRecord withLeaseUntil(long millis) {
    return new StoredRecord(State.IN_PROGRESS, firstSeenMillis, token, millis, fingerprint, result);
  }

  /** True while a lease is held at {@code nowMillis}. */
  public boolean leaseLiveAt(long nowMillis) {
    return state == State.IN_PROGRESS && leaseExpiresMillis > nowMillis;
  }

  /** True when the record was made by this (non-empty) token. */
  public boolean ownedBy(String attemptToken) {
    return !attemptToken.isEmpty() && attemptToken.equals(token);
  }
}
