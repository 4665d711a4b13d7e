/**
 * The dedupe Java client library.
 *
 * <p>Today this module only brings in the generated stubs ({@code dev.dedupe.v1.DedupeServiceGrpc})
 * and the gRPC transport, so that a service can call the API with one Maven dependency. The
 * batching, retrying and shard-routing client is its own piece of work.
 */
package dev.dedupe.client;
