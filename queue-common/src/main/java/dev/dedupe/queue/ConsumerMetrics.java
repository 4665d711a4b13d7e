package dev.dedupe.queue;

import dev.dedupe.client.EachOutcome;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A queue consumer's counters and handler timer, in Micrometer, with the same names for every
 * adapter so that one dashboard serves both:
 *
 * <ul>
 *   <li>{@code dedupe.consumer.messages{adapter,queue,outcome}}: deliveries by what happened,
 *       {@code outcome} one of {@code handled}, {@code duplicate}, {@code in_progress_elsewhere},
 *       {@code conflict}, {@code failed}, {@code unconfirmed}, {@code not_run},
 *       {@code invalid};</li>
 *   <li>{@code dedupe.consumer.dead_lettered{adapter,queue,reason}}: deliveries rejected to the
 *       dead-letter queue ({@code conflict}, {@code missing_id}, {@code invalid},
 *       {@code delivery_limit});</li>
 *   <li>{@code dedupe.consumer.handler{adapter,queue}}: the handler's run time, a timer.</li>
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class ConsumerMetrics {

  private final MeterRegistry registry;
  private final String adapter;
  private final String queue;
  private final Map<String, Counter> outcomes = new ConcurrentHashMap<>();
  private final Map<String, Counter> deadLettered = new ConcurrentHashMap<>();
  private final Timer handler;

  /**
   * @param registry where the meters go; null for a private {@link SimpleMeterRegistry} (the
   *     counts are still readable with {@link #count} and {@link #deadLetteredCount})
   * @param adapter {@code rabbitmq} or {@code sqs}
   * @param queue the queue consumed
   */
  public ConsumerMetrics(MeterRegistry registry, String adapter, String queue) {
    this.registry = registry == null ? new SimpleMeterRegistry() : registry;
    this.adapter = Objects.requireNonNull(adapter, "adapter");
    this.queue = Objects.requireNonNull(queue, "queue");
    this.handler = Timer.builder("dedupe.consumer.handler")
        .description("How long the message handler ran")
        .tags("adapter", adapter, "queue", queue)
        .register(this.registry);
  }

  /** The name an outcome is counted under. */
  public static String outcomeName(EachOutcome<?> outcome) {
    return switch (outcome) {
      case EachOutcome.Executed<?> e -> "handled";
      case EachOutcome.AlreadyDone<?> a -> "duplicate";
      case EachOutcome.InProgressElsewhere<?> p -> "in_progress_elsewhere";
      case EachOutcome.Conflict<?> c -> "conflict";
      case EachOutcome.Failed<?> f -> "failed";
      case EachOutcome.Unconfirmed<?> u -> "unconfirmed";
      case EachOutcome.NotRun<?> n -> "not_run";
      case EachOutcome.Invalid<?> i -> "invalid";
    };
  }

  /** Counts one delivery's outcome. */
  public void record(EachOutcome<?> outcome) {
    outcomes.computeIfAbsent(outcomeName(outcome), name -> Counter
        .builder("dedupe.consumer.messages")
        .description("Deliveries by what the consumer did with them")
        .tags("adapter", adapter, "queue", queue, "outcome", name)
        .register(registry)).increment();
  }

  /** Counts one delivery rejected to the dead-letter queue, and why. */
  public void deadLettered(String reason) {
    deadLettered.computeIfAbsent(reason, r -> Counter
        .builder("dedupe.consumer.dead_lettered")
        .description("Deliveries rejected to the dead-letter queue")
        .tags("adapter", adapter, "queue", queue, "reason", r)
        .register(registry)).increment();
  }

  /** The handler's timer: wrap each run of the handler in it. */
  public Timer handler() {
    return handler;
  }

  /** Deliveries counted under {@code outcome} so far. */
  public long count(String outcome) {
    Counter c = outcomes.get(outcome);
    return c == null ? 0 : (long) c.count();
  }

  /** Deliveries dead-lettered for {@code reason} so far. */
  public long deadLetteredCount(String reason) {
    Counter c = deadLettered.get(reason);
    return c == null ? 0 : (long) c.count();
  }

  public MeterRegistry registry() {
    return registry;
  }
}
