package dev.dedupe.client;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;

/**
 * Per-call options of {@link DedupeClient#checkAndInsert} and {@link DedupeClient#once}: a
 * payload fingerprint, a lease, and an attempt token of the caller's own. Immutable; each
 * {@code with} method returns a new instance.
 *
 * <pre>{@code
 * byte[] sha256 = MessageDigest.getInstance("SHA-256").digest(body);
 * InsertOptions options = InsertOptions.none()
 *     .withFingerprint(sha256)                  // same id, other payload -> CONFLICT
 *     .withLease(Duration.ofSeconds(30));       // NEW ids are leased to you for 30 s
 * Decision d = client.checkAndInsert("payments.charge", idempotencyKey, options);
 * }</pre>
 *
 * <p>Calls with different fingerprints share a batch (fingerprints travel per id); calls with
 * different leases or attempt tokens do not, since a request carries one of each.
 */
public final class InsertOptions {

  private static final byte[] NONE = new byte[0];
  private static final InsertOptions DEFAULTS = new InsertOptions(NONE, null, null);

  /** The longest fingerprint the server accepts by default (limits.fingerprint.max-bytes). */
  public static final int DEFAULT_MAX_FINGERPRINT_BYTES = 64;

  /** The longest attempt token the contract allows, in bytes of UTF-8. */
  public static final int MAX_ATTEMPT_TOKEN_BYTES = 128;

  private final byte[] fingerprint;
  private final Duration lease;
  private final String attemptToken;

  private InsertOptions(byte[] fingerprint, Duration lease, String attemptToken) {
    this.fingerprint = fingerprint;
    this.lease = lease;
    this.attemptToken = attemptToken;
  }

  /** No fingerprint and no lease (ids answered NEW are recorded as done at once). */
  public static InsertOptions none() {
    return DEFAULTS;
  }

  /**
   * These options with a payload fingerprint, for example the SHA-256 of the message body: an
   * id recorded with a different fingerprint is answered {@link Verdict#CONFLICT}.
   *
   * @param fingerprint at most {@value #DEFAULT_MAX_FINGERPRINT_BYTES} bytes with the server's
   *     default limits; empty means none. Copied
   * @throws NullPointerException if fingerprint is null
   */
  public InsertOptions withFingerprint(byte[] fingerprint) {
    Objects.requireNonNull(fingerprint, "fingerprint");
    return new InsertOptions(fingerprint.length == 0 ? NONE : fingerprint.clone(), lease,
        attemptToken);
  }

  /**
   * These options with a lease: ids answered NEW are recorded as in progress, owned by the
   * decision's attempt token, until {@link DedupeClient#commit}, {@link DedupeClient#release} or
   * the lease runs out (then the next caller gets NEW).
   *
   * @param lease more than zero; at most 1 hour with the server's default limits
   * @throws NullPointerException if lease is null
   * @throws IllegalArgumentException if lease is zero or negative, with the value
   */
  public InsertOptions withLease(Duration lease) {
    Objects.requireNonNull(lease, "lease");
    if (lease.isZero() || lease.isNegative()) {
      throw new IllegalArgumentException("lease must be more than zero, was " + lease);
    }
    return new InsertOptions(fingerprint, lease, attemptToken);
  }

  /**
   * These options with an attempt token of the caller's choosing, sent in place of the fresh
   * random one the client gives each batch. Use it to retry, later, a call that failed: pass
   * the failed call's {@link DedupeException#attemptToken()}, and every id that call recorded
   * (its reply was lost) comes back NEW with {@link Decision#replay()} set, instead of
   * DUPLICATE, so the side effect is still yours to do. Or choose the token before the first
   * call (a UUID kept with the message), if the call may be abandoned without an exception,
   * for example by a timeout on its future.
   *
   * <p>Ids recorded by the token come back NEW (replay) for as long as the server keeps them;
   * so an id repeated within calls that share a token is NEW at every position. Calls with a
   * token of their own are batched only with calls that carry the same token.
   *
   * @param attemptToken 1 to {@value #MAX_ATTEMPT_TOKEN_BYTES} bytes of UTF-8
   * @throws NullPointerException if attemptToken is null
   * @throws IllegalArgumentException if it is empty or longer than
   *     {@value #MAX_ATTEMPT_TOKEN_BYTES} bytes, with the value
   */
  public InsertOptions withAttemptToken(String attemptToken) {
    Objects.requireNonNull(attemptToken, "attemptToken");
    int bytes = attemptToken.getBytes(StandardCharsets.UTF_8).length;
    if (bytes == 0 || bytes > MAX_ATTEMPT_TOKEN_BYTES) {
      throw new IllegalArgumentException("attemptToken must be 1 to " + MAX_ATTEMPT_TOKEN_BYTES
          + " bytes of UTF-8, was " + bytes + " bytes: '" + attemptToken + "'");
    }
    return new InsertOptions(fingerprint, lease, attemptToken);
  }

  /** A copy of the fingerprint; empty when none is set. */
  public byte[] fingerprint() {
    return fingerprint.length == 0 ? NONE : fingerprint.clone();
  }

  /** The lease, or null when none is set. */
  public Duration lease() {
    return lease;
  }

  /** The caller's attempt token, or null when the client is to pick one per batch. */
  public String attemptToken() {
    return attemptToken;
  }

  byte[] fingerprintUnsafe() {
    return fingerprint;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof InsertOptions other
        && Arrays.equals(fingerprint, other.fingerprint)
        && Objects.equals(lease, other.lease)
        && Objects.equals(attemptToken, other.attemptToken);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * Arrays.hashCode(fingerprint) + Objects.hashCode(lease))
        + Objects.hashCode(attemptToken);
  }

  @Override
  public String toString() {
    return "InsertOptions[fingerprint=" + fingerprint.length + " bytes, lease=" + lease
        + (attemptToken != null ? ", attemptToken=" + attemptToken : "") + "]";
  }
}
