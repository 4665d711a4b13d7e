package dev.dedupe.server.storage;

/**
 * One record of an id found in a shard store.
 *
 * @param bucketStart the start of the time bucket that holds it
 * @param firstSeenMillis when the id was recorded (server wall clock, epoch milliseconds)
 */
public record Holding(long bucketStart, long firstSeenMillis) {}
