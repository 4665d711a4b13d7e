package dev.dedupe.client;

import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;

/**
 * The server's answer for one message id. Immutable: {@link #result()} returns a copy.
 *
 * <pre>{@code
 * Decision d = client.checkAndInsert("webhooks", eventId, InsertOptions.none().withLease(Duration.ofSeconds(30)));
 * if (d.isNew()) {
 *   send(event);
 *   client.commit("webhooks", eventId, d.attemptToken(), new byte[0]);
 * }
 * }</pre>
 *
 * @param messageId the id this decision is about
 * @param verdict what to do with the id
 * @param firstSeen when the id was first recorded within the window (server clock, millisecond
 *     precision); for NEW the time of this call (of the first attempt, for a replay). Null when
 *     {@link DedupeClient#check} answers NEW
 * @param replay true when NEW answers a retry: this request's attempt token recorded the id on
 *     an earlier attempt whose reply was lost. The caller still owns the id and should perform
 *     the side effect, exactly as for a plain NEW
 * @param leaseExpiresAt when the lease on the id ends: yours for NEW with a lease, the holder's
 *     for IN_PROGRESS; null when there is no lease
 * @param result for DUPLICATE of a committed id, the bytes its Commit stored (possibly empty);
 *     empty otherwise. Never null
 * @param attemptToken for NEW from {@link DedupeClient#checkAndInsert}, the attempt token that
 *     recorded the id: pass it to {@link DedupeClient#commit}, {@link DedupeClient#release} or
 *     {@link DedupeClient#extendLease}. Null for every other verdict and for Check
 */
public record Decision(
    String messageId,
    Verdict verdict,
    Instant firstSeen,
    boolean replay,
    Instant leaseExpiresAt,
    byte[] result,
    String attemptToken) {

  private static final byte[] EMPTY = new byte[0];

  /**
   * Validates and copies.
   *
   * @throws NullPointerException if messageId or verdict is null
   */
  public Decision {
    Objects.requireNonNull(messageId, "messageId");
    Objects.requireNonNull(verdict, "verdict");
    result = result == null || result.length == 0 ? EMPTY : result.clone();
  }

  /** True when the verdict is {@link Verdict#NEW}: the side effect is yours to perform. */
  public boolean isNew() {
    return verdict == Verdict.NEW;
  }

  /** A copy of the stored result (empty if none). */
  @Override
  public byte[] result() {
    return result.length == 0 ? EMPTY : result.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Decision d
        && messageId.equals(d.messageId)
        && verdict == d.verdict
        && Objects.equals(firstSeen, d.firstSeen)
        && replay == d.replay
        && Objects.equals(leaseExpiresAt, d.leaseExpiresAt)
        && Arrays.equals(result, d.result)
        && Objects.equals(attemptToken, d.attemptToken);
  }

  @Override
  public int hashCode() {
    return Objects.hash(messageId, verdict, firstSeen, replay, leaseExpiresAt,
        Arrays.hashCode(result), attemptToken);
  }

  @Override
  public String toString() {
    return "Decision[" + messageId + " " + verdict
        + (firstSeen != null ? " firstSeen=" + firstSeen : "")
        + (replay ? " replay" : "")
        + (leaseExpiresAt != null ? " leaseExpiresAt=" + leaseExpiresAt : "")
        + (result.length > 0 ? " result=" + result.length + " bytes" : "")
        + (attemptToken != null ? " token=" + attemptToken : "")
        + "]";
  }
}
