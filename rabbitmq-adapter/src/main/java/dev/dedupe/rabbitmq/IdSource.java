package dev.dedupe.rabbitmq;

import com.rabbitmq.client.Delivery;
import java.util.Map;
import java.util.Objects;

/**
 * Where a delivery's id comes from. Returns null (or "") when the delivery has none; the
 * consumer's {@link dev.dedupe.queue.MissingIdPolicy} then decides.
 */
@FunctionalInterface
public interface IdSource {

  /** The delivery's id, or null when it has none. */
  String idOf(Delivery delivery);

  /** The AMQP {@code message_id} property, set by the producer: the default. */
  static IdSource messageId() {
    return d -> d.getProperties() == null ? null : d.getProperties().getMessageId();
  }

  /**
   * The header {@code name}, for producers that put their key in a header (an order number, an
   * event id); its value's string form (AMQP long strings arrive as LongString).
   */
  static IdSource header(String name) {
    Objects.requireNonNull(name, "name");
    return d -> {
      Map<String, Object> headers = d.getProperties() == null ? null : d.getProperties().getHeaders();
      Object value = headers == null ? null : headers.get(name);
      return value == null ? null : value.toString();
    };
  }
}
