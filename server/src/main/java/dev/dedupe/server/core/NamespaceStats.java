package dev.dedupe.server.core;

import java.time.Duration;

/**
 * One namespace's figures on this node.
 *
 * @param namespace the namespace
 * @param keysHeld records held on disk, including ones past the window not yet dropped
 * @param bytesHeld the namespace's share of the node's bytes on disk, by key count
 * @param window the configured window
 * @param effectiveWindow the window in force after disk-budget age-out
 * @param oldestBucketStartMillis start of the oldest bucket held, or -1 if none
 */
public record NamespaceStats(
    String namespace,
    long keysHeld,
    long bytesHeld,
    Duration window,
    Duration effectiveWindow,
    long oldestBucketStartMillis) {}
