package dev.dedupe.client;

import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;

/**
 * Per-call options of {@link DedupeClient#checkAndInsert} and {@link DedupeClient#once}: a
 * payload fingerprint and a lease. Immutable; each {@code with} method returns a new instance.
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
 * different leases do not, since a request carries one lease.
 */
public final class InsertOptions {

  private static final byte[] NONE = new byte[0];
  private static final InsertOptions DEFAULTS = new InsertOptions(NONE, null);

  /** The longest fingerprint the server accepts by default (limits.fingerprint.max-bytes). */
  public static final int DEFAULT_MAX_FINGERPRINT_BYTES = 64;

  private final byte[] fingerprint;
  private final Duration lease;

  private InsertOptions(byte[] fingerprint, Duration lease) {
    this.fingerprint = fingerprint;
    this.lease = lease;
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
    return new InsertOptions(fingerprint.length == 0 ? NONE : fingerprint.clone(), lease);
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
    return new InsertOptions(fingerprint, lease);
  }

  /** A copy of the fingerprint; empty when none is set. */
  public byte[] fingerprint() {
    return fingerprint.length == 0 ? NONE : fingerprint.clone();
  }

  /** The lease, or null when none is set. */
  public Duration lease() {
    return lease;
  }

  byte[] fingerprintUnsafe() {
    return fingerprint;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof InsertOptions other
        && Arrays.equals(fingerprint, other.fingerprint)
        && Objects.equals(lease, other.lease);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(fingerprint) + Objects.hashCode(lease);
  }

  @Override
  public String toString() {
    return "InsertOptions[fingerprint=" + fingerprint.length + " bytes, lease=" + lease + "]";
  }
}
