package dev.dedupe.client;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * How {@link DedupeClient#onceEach} reads a batch of messages: each one's id, and optionally
 * its payload fingerprint, its ordering group, its lease, and whom to tell when a lease is
 * extended. Immutable; each {@code with} method returns a new spec.
 *
 * <pre>{@code
 * EachSpec<Message> spec = EachSpec.<Message>ids(Message::messageId)
 *     .withFingerprints(m -> sha256(m.body()))
 *     .withLease(Duration.ofSeconds(30));
 * }</pre>
 *
 * @param <M> the message type
 * @param idOf the message's id; it may throw for a message that has none (the message is then
 *     {@link EachOutcome.Invalid})
 * @param fingerprintOf the message's payload fingerprint, or null for none
 * @param groupOf the message's ordering group (SQS FIFO's message group): within a group,
 *     messages are handled in order, and none after the first that does not finish; null for
 *     no groups
 * @param lease how long a NEW id is held for its action before another attempt may take it;
 *     it is extended every half lease while the action runs
 * @param onLeaseExtended told the new end each time a message's lease is extended, on a gRPC
 *     thread: it must not block (hand slow work, such as a broker call, to an executor)
 */
public record EachSpec<M>(
    Function<M, String> idOf,
    Function<M, byte[]> fingerprintOf,
    Function<M, String> groupOf,
    Duration lease,
    BiConsumer<M, Instant> onLeaseExtended) {

  /** The lease when a spec sets none. */
  public static final Duration DEFAULT_LEASE = Duration.ofSeconds(30);

  public EachSpec {
    Objects.requireNonNull(idOf, "idOf");
    Objects.requireNonNull(lease, "lease");
    if (lease.isNegative() || lease.isZero()) {
      throw new IllegalArgumentException("lease must be positive, was " + lease);
    }
  }

  /** A spec that takes each message's id from {@code idOf}, with the default lease. */
  public static <M> EachSpec<M> ids(Function<M, String> idOf) {
    return new EachSpec<>(idOf, null, null, DEFAULT_LEASE, null);
  }

  public EachSpec<M> withFingerprints(Function<M, byte[]> fingerprint) {
    return new EachSpec<>(idOf, fingerprint, groupOf, lease, onLeaseExtended);
  }

  public EachSpec<M> inGroups(Function<M, String> group) {
    return new EachSpec<>(idOf, fingerprintOf, group, lease, onLeaseExtended);
  }

  public EachSpec<M> withLease(Duration newLease) {
    return new EachSpec<>(idOf, fingerprintOf, groupOf, newLease, onLeaseExtended);
  }

  public EachSpec<M> onLeaseExtended(BiConsumer<M, Instant> listener) {
    return new EachSpec<>(idOf, fingerprintOf, groupOf, lease, listener);
  }
}
