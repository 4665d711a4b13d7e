package dev.dedupe.rabbitmq;

import com.rabbitmq.client.Delivery;

/** The side effect a {@link DedupeRabbitConsumer} runs once per message id. */
@FunctionalInterface
public interface DeliveryHandler {

  /**
   * Performs the side effect for {@code delivery}. Runs on the consumer's own thread, one
   * delivery at a time; the delivery is acknowledged by the consumer afterwards, never here.
   *
   * @return the bytes stored with the id and handed to later duplicates as the stored result
   *     (for instance the charge's own key, so that a rerun after a crash can find it), or null
   *     for none; at most the service's result limit (4 KiB by default)
   * @throws Exception to have the id's lease released and the delivery requeued, counting
   *     towards the delivery limit
   */
  byte[] handle(Delivery delivery) throws Exception;
}
