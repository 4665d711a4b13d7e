package dev.dedupe.sqs;

import dev.dedupe.client.DedupeClient;
import dev.dedupe.client.EachOutcome;
import dev.dedupe.client.EachSpec;
import dev.dedupe.queue.BodyDigest;
import dev.dedupe.queue.ConsumerMetrics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.sqs.model.Message;

/**
 * One received batch, start to end: ids (a message without one is dead-lettered, or given its
 * body's digest), one onceEach for the batch (fingerprint = body digest, groups = FIFO message
 * groups), the handler on NEW ids, then the SQS writes each outcome calls for, batched.
 *
 * <p>Runs on a receive loop's thread; one instance serves every loop (it keeps no per-batch
 * state in fields).
 */
final class BatchProcessor {

  private static final Logger log = LoggerFactory.getLogger(BatchProcessor.class);

  private final DedupeClient dedupe;
  private final SqsBroker broker;
  private final SqsConsumerConfig config;
  private final MessageHandler handler;
  private final ConsumerMetrics metrics;
  private final MessageIds ids;
  private final OutcomeRouter router;
  /** Told each outcome once its SQS writes are done; null for none. */
  private final Consumer<EachOutcome<Message>> listener;
  /** Counted down by close(): ends a WAIT for another consumer's lease early. */
  private final CountDownLatch stopping;

  BatchProcessor(DedupeClient dedupe, SqsBroker broker, SqsConsumerConfig config,
      MessageHandler handler, ConsumerMetrics metrics, Consumer<EachOutcome<Message>> listener,
      CountDownLatch stopping) {
    this.dedupe = dedupe;
    this.broker = broker;
    this.config = config;
    this.handler = handler;
    this.metrics = metrics;
    this.ids = new MessageIds(config);
    this.router = new OutcomeRouter(config.inProgress(), config.maxReceiveCount());
    this.listener = listener;
    this.stopping = stopping;
  }

  void process(List<Message> received) {
    Map<Message, String> idOf = new IdentityHashMap<>();
    Map<Message, String> deadLetters = new LinkedHashMap<>();
    List<Message> withIds = new ArrayList<>();
    for (Message m : received) {
      String id = ids.idOf(m);
      if (id == null) {
        deadLetters.put(m, "missing_id");
      } else {
        idOf.put(m, id);
        withIds.add(m);
      }
    }
    if (!deadLetters.isEmpty()) {
      apply(Map.of(), deadLetters);
    }
    Waiting waiting = new Waiting(withIds, Instant.now());
    while (!waiting.messages().isEmpty()) {
      waiting = decideAndDispose(waiting.messages(), idOf);
      if (!waiting.messages().isEmpty() && !awaitLeases(waiting)) {
        return; // closing: the waiting messages stay hidden until their holder's lease ends
      }
    }
  }

  /** Messages held by another consumer until {@code until}, to ask about again then. */
  private record Waiting(List<Message> messages, Instant until) {}

  /** One onceEach and its SQS writes; returns the messages to wait for (InProgressPolicy.WAIT). */
  private Waiting decideAndDispose(List<Message> batch, Map<Message, String> idOf) {
    EachSpec<Message> spec = EachSpec.<Message>ids(idOf::get)
        .withFingerprints(m -> BodyDigest.fingerprint(MessageIds.bodyOf(m)))
        .withLease(config.lease())
        .onLeaseExtended((m, end) -> broker.extendLater(m,
            SqsConsumerConfig.visibilitySeconds(Duration.between(Instant.now(), end))));
    if (config.fifo()) {
      spec = spec.inGroups(MessageIds::groupOf);
    }
    List<EachOutcome<Message>> outcomes = dedupe.onceEach(config.namespace(), batch, spec,
        m -> metrics.handler().recordCallable(() -> handler.handle(m)));

    List<Message> deletes = new ArrayList<>();
    Map<Message, String> deadLetters = new LinkedHashMap<>();
    Map<Message, Integer> visibility = new LinkedHashMap<>();
    List<Message> waits = new ArrayList<>();
    Instant waitUntil = Instant.MIN;
    Instant now = Instant.now();
    int backoff = (int) Math.min(43_200, config.failureBackoff().toSeconds());
    for (EachOutcome<Message> outcome : outcomes) {
      metrics.record(outcome);
      explain(outcome);
      Message m = outcome.message();
      switch (router.route(outcome)) {
        case Disposition.Delete d -> deletes.add(m);
        case Disposition.DeadLetter d -> deadLetters.put(m, d.reason());
        case Disposition.HideUntil h -> visibility.put(m,
            SqsConsumerConfig.visibilitySeconds(Duration.between(now, h.until())));
        case Disposition.Retry r -> visibility.put(m, backoff);
        case Disposition.Wait w -> {
          waits.add(m);
          waitUntil = w.until().isAfter(waitUntil) ? w.until() : waitUntil;
        }
      }
    }
    apply(visibility, deadLetters);
    int deleted = broker.delete(deletes);
    if (deleted < deletes.size()) {
      log.warn("{}: {} of {} deletes failed (counted in dedupe.sqs.broker_failures); those"
          + " messages come back and are deleted then as duplicates", config.queueUrl(),
          deletes.size() - deleted, deletes.size());
    }
    if (listener != null) {
      outcomes.forEach(this::tell);
    }
    return new Waiting(waits, waitUntil);
  }

  /** The listener's exception is logged, never thrown: the batch is already disposed of. */
  private void tell(EachOutcome<Message> outcome) {
    try {
      listener.accept(outcome);
    } catch (RuntimeException e) {
      log.warn("{}: the onOutcome listener threw for id {}", config.queueUrl(),
          outcome.messageId(), e);
    }
  }

  private void apply(Map<Message, Integer> visibility, Map<Message, String> deadLetters) {
    broker.changeVisibility(visibility);
    for (Message m : broker.deadLetter(deadLetters)) {
      metrics.deadLettered(deadLetters.get(m));
    }
  }

  /**
   * InProgressPolicy.WAIT: keeps the messages hidden until their holders' leases end, then
   * returns true to ask again; false if the consumer is closing.
   */
  private boolean awaitLeases(Waiting waiting) {
    // Decided again right after the holders' leases end; hidden a lease longer than that, so
    // that no other receive takes them meanwhile.
    Duration untilEnd = Duration.between(Instant.now(), waiting.until());
    Map<Message, Integer> hide = new LinkedHashMap<>();
    waiting.messages().forEach(m -> hide.put(m,
        SqsConsumerConfig.visibilitySeconds(untilEnd.plus(config.lease()))));
    broker.changeVisibility(hide);
    try {
      // A production wait on another consumer's lease, not a test's sleep: it ends at the
      // lease's end or when the consumer closes.
      return !stopping.await(Math.max(0, untilEnd.toMillis()), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private void explain(EachOutcome<Message> outcome) {
    switch (outcome) {
      case EachOutcome.Failed<Message> f -> log.warn("{}: handler failed for id {} (receive {}),"
          + " lease released: {}", config.queueUrl(), f.messageId(),
          MessageIds.receiveCount(f.message()), f.released(), f.cause());
      case EachOutcome.Unconfirmed<Message> u -> log.warn("{}: id {} was handled but its commit"
          + " failed; deleting it (a redelivery after the lease would run it again)",
          config.queueUrl(), u.messageId(), u.cause());
      case EachOutcome.Conflict<Message> c -> log.warn("{}: id {} was first seen at {} with"
          + " another body: dead-lettered", config.queueUrl(), c.messageId(), c.firstSeen());
      case EachOutcome.Invalid<Message> i -> log.warn("{}: invalid message {}: {}",
          config.queueUrl(), i.message().messageId(), i.reason());
      default -> { }
    }
  }
}
