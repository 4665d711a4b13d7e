package dev.dedupe.server.storage;

/**
 * One record of an id found in a shard store.
 *
 * @param bucketStart the start of the time bucket that holds it
 * @param record what is stored
 */
public record Holding(long bucketStart, StoredRecord record) {}
