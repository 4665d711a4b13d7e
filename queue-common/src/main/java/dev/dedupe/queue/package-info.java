/**
 * What the queue adapters ({@code dedupe-rabbitmq}, {@code dedupe-sqs}) share. The protocol
 * itself (one batched CheckAndInsert with leases, the handler on NEW, Commit, Release) is the
 * client's {@link dev.dedupe.client.DedupeClient#onceEach}; this package holds the consumer's
 * metrics and the policies an adapter's builder offers.
 */
package dev.dedupe.queue;
