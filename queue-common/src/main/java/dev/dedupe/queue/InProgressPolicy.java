package dev.dedupe.queue;

/**
 * What a consumer does with a delivery whose id another consumer holds a lease on (it may be
 * running the handler right now).
 */
public enum InProgressPolicy {
  /**
   * Hand it back to the broker, to come again once the holder's lease has ended (SQS: its
   * visibility is set to the lease's remaining time; RabbitMQ: it is requeued after that
   * time). By then the holder has committed (the delivery is then a duplicate and is
   * acknowledged) or has died (the delivery runs). The default.
   */
  REDELIVER_AFTER_LEASE,
  /**
   * Keep it and ask again when the holder's lease ends, holding the consumer's slot meanwhile.
   * Fewer broker round trips, at the price of a consumer thread per such message.
   */
  WAIT
}
