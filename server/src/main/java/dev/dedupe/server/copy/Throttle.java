package dev.dedupe.server.copy;

/**
 * The cluster's throttle on shard copies, as its znode holds it ({@code throttle}):
 * {@code {"bytes_per_second":52428800,"set_millis":1764700000000}}. Every node applies the rate
 * to all the snapshot bytes it sends, together (one node-wide budget, as Kafka's leader
 * throttle is per broker). No znode means no throttle.
 *
 * @param bytesPerSecond the rate, {@link ByteRate#MIN_BYTES_PER_SECOND} or more
 * @param setMillis when an admin set it, wall-clock milliseconds since the epoch: a throttle
 *     ends with the moves that finish after it was set (the controller's rule, in
 *     {@code cluster.ThrottleExpiry})
 */
public record Throttle(long bytesPerSecond, long setMillis) {

  public Throttle {
    if (!ByteRate.settable(bytesPerSecond)) {
      throw new IllegalArgumentException("a throttle's rate must be " + ByteRate.MIN_BYTES_PER_SECOND
          + " to " + ByteRate.MAX_BYTES_PER_SECOND + " bytes per second, was " + bytesPerSecond);
    }
  }
}
