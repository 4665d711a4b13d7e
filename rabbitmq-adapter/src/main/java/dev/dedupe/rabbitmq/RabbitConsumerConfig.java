package dev.dedupe.rabbitmq;

import dev.dedupe.queue.InProgressPolicy;
import dev.dedupe.queue.MissingIdPolicy;
import java.time.Duration;
import java.util.Objects;

/**
 * What a {@link DedupeRabbitConsumer} was built with; immutable. The builder's Javadoc gives
 * each default and why.
 *
 * @param queue the queue consumed
 * @param namespace the dedupe namespace the ids live in
 * @param idSource where each delivery's id comes from
 * @param missingId what a delivery without an id gets
 * @param inProgress what a delivery whose id another consumer holds gets
 * @param lease how long an id is held for the handler (extended while it runs)
 * @param prefetch the channel's basicQos: at most this many unacknowledged deliveries, and so
 *     the largest batch decided in one call
 * @param linger how long the consumer waits for more deliveries once it has one and fewer than
 *     {@code prefetch}
 * @param deliveryLimit the deliveries of one message (the failed ones and this one) after which
 *     a failing handler's message is dead-lettered instead of requeued
 * @param fingerprintBodies whether the body's SHA-256 goes with each id, so that an id reused
 *     for another body is a conflict (dead-lettered) rather than a silent duplicate
 */
public record RabbitConsumerConfig(
    String queue,
    String namespace,
    IdSource idSource,
    MissingIdPolicy missingId,
    InProgressPolicy inProgress,
    Duration lease,
    int prefetch,
    Duration linger,
    int deliveryLimit,
    boolean fingerprintBodies) {

  public RabbitConsumerConfig {
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(idSource, "idSource");
    Objects.requireNonNull(missingId, "missingId");
    Objects.requireNonNull(inProgress, "inProgress");
    Objects.requireNonNull(lease, "lease");
    Objects.requireNonNull(linger, "linger");
    if (lease.isNegative() || lease.isZero()) {
      throw new IllegalArgumentException("lease must be positive, was " + lease);
    }
    if (prefetch < 1 || prefetch > 65_535) {
      throw new IllegalArgumentException("prefetch must be 1..65535 (basicQos), was " + prefetch);
    }
    if (linger.isNegative()) {
      throw new IllegalArgumentException("linger must not be negative, was " + linger);
    }
    if (deliveryLimit < 1) {
      throw new IllegalArgumentException("deliveryLimit must be at least 1, was " + deliveryLimit);
    }
  }
}
