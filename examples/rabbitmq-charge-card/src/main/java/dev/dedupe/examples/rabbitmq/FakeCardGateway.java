package dev.dedupe.examples.rabbitmq;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A stand-in for a card processor. Like a real one it takes an idempotency key: a second
 * request with the same key gets the first charge back and charges nothing.
 */
public final class FakeCardGateway {

  private final Map<String, String> chargeIdByKey = new ConcurrentHashMap<>();
  private final List<String> requests = new CopyOnWriteArrayList<>();

  /** Charges {@code what} once per {@code idempotencyKey}; returns the charge's id. */
  public String charge(String idempotencyKey, String what) {
    requests.add(idempotencyKey);
    return chargeIdByKey.computeIfAbsent(idempotencyKey,
        key -> "ch_" + UUID.randomUUID().toString().substring(0, 8));
  }

  /** The idempotency key of every charge request, in order: each payment once, if deduped. */
  public List<String> requests() {
    return List.copyOf(requests);
  }
}
