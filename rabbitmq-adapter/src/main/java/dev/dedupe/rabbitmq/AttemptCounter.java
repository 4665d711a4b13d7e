package dev.dedupe.rabbitmq;

import com.rabbitmq.client.Delivery;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How many times a message has been delivered, counting this delivery, to decide when a
 * failing handler's message is dead-lettered.
 *
 * <p>Quorum queues say it themselves: the broker sets {@code x-delivery-count} on each
 * redelivery (the number of earlier deliveries returned to the queue), kept with the message
 * across consumers and restarts. Classic queues have no such count, and their
 * {@code redelivered} flag only says "maybe delivered before", not how often; there this counts
 * the handler's failures per id in this consumer's memory (the last 10,000 ids), so the limit
 * holds per consumer process and starts again after a restart. Use a quorum queue when the
 * limit must hold across consumers.
 *
 * <p>Threads: the consumer's delivery thread only.
 */
final class AttemptCounter {

  static final String DELIVERY_COUNT_HEADER = "x-delivery-count";
  private static final int REMEMBERED_IDS = 10_000;

  private final Map<String, Integer> failuresById =
      new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
          return size() > REMEMBERED_IDS;
        }
      };

  /** Records that the handler failed for this delivery; returns its deliveries so far. */
  int failed(Delivery delivery, String id) {
    int local = failuresById.merge(id, 1, Integer::sum);
    Integer broker = brokerCount(delivery);
    return broker == null ? local : broker + 1;
  }

  /** Forgets an id that finished, so that a later reuse of it starts from zero. */
  void finished(String id) {
    failuresById.remove(id);
  }

  /** The quorum queue's count of earlier deliveries, or null on a classic queue. */
  static Integer brokerCount(Delivery delivery) {
    Map<String, Object> headers =
        delivery.getProperties() == null ? null : delivery.getProperties().getHeaders();
    Object count = headers == null ? null : headers.get(DELIVERY_COUNT_HEADER);
    return count instanceof Number n ? n.intValue() : null;
  }
}
