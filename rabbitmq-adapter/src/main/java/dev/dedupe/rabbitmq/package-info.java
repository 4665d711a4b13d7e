/**
 * The RabbitMQ queue adapter: {@link dev.dedupe.rabbitmq.DedupeRabbitConsumer} runs a
 * handler once per message id over classic and quorum queues, on the client's
 * {@link dev.dedupe.client.DedupeClient#onceEach}.
 */
package dev.dedupe.rabbitmq;
