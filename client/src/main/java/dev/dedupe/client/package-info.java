/**
 * The dedupe Java client library.
 *
 * <p>{@link dev.dedupe.client.DedupeClient} is the entry point: built by
 * {@link dev.dedupe.client.DedupeClient#builder()}, it batches the checkAndInsert calls of
 * concurrent threads into few requests, retries with attempt tokens so that a lost reply never
 * turns NEW into DUPLICATE, routes each id to the node that owns its shard, and offers
 * {@link dev.dedupe.client.DedupeClient#once} for record-then-act with a lease.
 *
 * <pre>{@code
 * try (DedupeClient client = DedupeClient.builder().target("localhost:50051").build()) {
 *   Decision d = client.checkAndInsert("orders", "order-1");
 *   if (d.isNew()) fulfil();
 * }
 * }</pre>
 *
 * <p>Answers are {@link dev.dedupe.client.Decision}s with a {@link dev.dedupe.client.Verdict};
 * failures are {@link dev.dedupe.client.DedupeException}s carrying the gRPC status. The
 * generated stubs ({@code dev.dedupe.v1.DedupeServiceGrpc}) remain available for callers that
 * want the raw API.
 */
package dev.dedupe.client;
