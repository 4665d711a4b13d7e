package dev.dedupe.rabbitmq;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** The side-effect ledger the tests' handlers write: how many times each id's effect ran. */
final class Ledger {

  private final Map<String, AtomicInteger> effects = new ConcurrentHashMap<>();

  void effect(String id) {
    effects.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
  }

  int effects(String id) {
    AtomicInteger n = effects.get(id);
    return n == null ? 0 : n.get();
  }

  int distinctIds() {
    return effects.size();
  }

  /** Ids whose effect ran more than once, with their counts (empty when all ran once). */
  Map<String, Integer> repeated() {
    Map<String, Integer> out = new TreeMap<>();
    effects.forEach((id, n) -> {
      if (n.get() > 1) {
        out.put(id, n.get());
      }
    });
    return out;
  }
}
