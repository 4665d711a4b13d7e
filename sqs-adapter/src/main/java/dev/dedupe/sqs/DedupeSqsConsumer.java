package dev.dedupe.sqs;

import dev.dedupe.client.DedupeClient;
import dev.dedupe.client.EachOutcome;
import dev.dedupe.client.EachSpec;
import dev.dedupe.queue.ConsumerMetrics;
import dev.dedupe.queue.InProgressPolicy;
import dev.dedupe.queue.MissingIdPolicy;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.Message;

/**
 * An SQS consumer that runs its handler at most once per message id: a long-polling receive
 * loop that decides each batch of up to ten in one dedupe call, runs the handler for new ids,
 * and deletes, hides, retries or dead-letters each message by what happened.
 *
 * <pre>{@code
 * DedupeSqsConsumer consumer = DedupeSqsConsumer.builder()
 *     .queueUrl("https://sqs.eu-west-1.amazonaws.com/123456789012/payments")
 *     .sqs(SqsClient.create())
 *     .dedupe(DedupeClient.builder().target("dedupe:50051").build())
 *     .deadLetterQueueUrl("https://sqs.eu-west-1.amazonaws.com/123456789012/payments-dlq")
 *     .handler(message -> gateway.charge(message.body()).receiptBytes())
 *     .build();
 * consumer.start();
 * // ... on shutdown:
 * consumer.close();
 * }</pre>
 *
 * <p>The guarantee (docs/queues.md): the handler runs to completion at most once per id within
 * the dedupe window, except when a process dies after the side effect and before the commit;
 * then the lease runs out and the message runs again.
 *
 * <p>What each delivery gets: handled, a duplicate, or handled without a confirmed commit:
 * deleted ({@code DeleteMessageBatch}). Held by another consumer: hidden until that lease ends
 * ({@link InProgressPolicy#REDELIVER_AFTER_LEASE}) or waited for ({@link InProgressPolicy#WAIT}).
 * The handler threw: made visible again after {@link Builder#failureBackoff}, and from the
 * {@link Builder#maxReceiveCount}th receive on, dead-lettered. Same id with another body
 * (conflict), or no id under {@link MissingIdPolicy#DEAD_LETTER}: dead-lettered at once.
 * Dead-lettering sends the message to {@link Builder#deadLetterQueueUrl} and then deletes it.
 *
 * <p>Threads: {@link Builder#consumers} receive loops, each handling its batch in order on its
 * own thread, and one thread extending visibility while handlers run. Thread-safe.
 */
public final class DedupeSqsConsumer implements AutoCloseable {

  private enum State { CREATED, STARTED, CLOSED }

  private final SqsConsumerConfig config;
  private final ConsumerMetrics metrics;
  private final CountDownLatch stopping = new CountDownLatch(1);
  private final ExecutorService extender;
  private final List<ReceiveLoop> loops = new ArrayList<>();
  private final List<Thread> threads = new ArrayList<>();
  private final AtomicReference<State> state = new AtomicReference<>(State.CREATED);

  private DedupeSqsConsumer(Builder b, SqsConsumerConfig config) {
    this.config = config;
    this.metrics = new ConsumerMetrics(b.registry, "sqs",
        SqsConsumerConfig.queueName(config.queueUrl()));
    this.extender = Executors.newSingleThreadExecutor(r -> daemon(r, "sqs-visibility-"
        + SqsConsumerConfig.queueName(config.queueUrl())));
    SqsBroker broker = new SqsBroker(b.sqs, config, extender, metrics.registry());
    BatchProcessor processor = new BatchProcessor(b.dedupe, broker, config, b.handler, metrics,
        b.listener, stopping);
    for (int i = 0; i < config.consumers(); i++) {
      ReceiveLoop loop = new ReceiveLoop(b.sqs, config, processor, broker, stopping);
      loops.add(loop);
      threads.add(daemon(loop, "sqs-receive-" + SqsConsumerConfig.queueName(config.queueUrl())
          + "-" + i));
    }
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Starts the receive loops.
   *
   * @throws IllegalStateException if started before or closed
   */
  public void start() {
    if (!state.compareAndSet(State.CREATED, State.STARTED)) {
      throw new IllegalStateException("start() needs a new consumer; it is " + state.get());
    }
    threads.forEach(Thread::start);
  }

  /**
   * Stops receiving, waits for the batches in hand to be handled and disposed of, then returns.
   * A long poll still open is not waited for; what it brings back is made visible again at
   * once. Closes neither the SqsClient nor the DedupeClient (they are the caller's); close
   * those after this. Idempotent.
   */
  @Override
  public void close() {
    if (state.getAndSet(State.CLOSED) == State.CLOSED) {
      return;
    }
    stopping.countDown();
    loops.forEach(ReceiveLoop::awaitBatchInHand);
    extender.shutdown();
    try {
      extender.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The consumer's counters and handler timer. */
  public ConsumerMetrics metrics() {
    return metrics;
  }

  /** The namespace ids are deduplicated in. */
  public String namespace() {
    return config.namespace();
  }

  /**
   * Builds a {@link DedupeSqsConsumer}. Required: {@link #queueUrl}, {@link #sqs},
   * {@link #dedupe}, {@link #handler}, {@link #deadLetterQueueUrl}. Each setter may be called
   * once.
   */
  public static final class Builder {
    /** The default {@link #maxReceiveCount}: as in SQS's console's redrive default. */
    public static final int DEFAULT_MAX_RECEIVE_COUNT = 5;
    /** SQS's longest long poll. */
    public static final Duration MAX_WAIT = Duration.ofSeconds(20);

    private String queueUrl;
    private SqsClient sqs;
    private DedupeClient dedupe;
    private MessageHandler handler;
    private String namespace;
    private String idAttribute;
    private Function<Message, String> idFunction;
    private MissingIdPolicy missingId;
    private InProgressPolicy inProgress;
    private Duration lease;
    private Integer maxReceiveCount;
    private String deadLetterQueueUrl;
    private Duration waitTime;
    private Duration failureBackoff;
    private Integer consumers;
    private MeterRegistry registry;
    private Consumer<EachOutcome<Message>> listener;

    private Builder() {}

    private static <T> T once(T current, T value, String name) {
      if (current != null) {
        throw new IllegalStateException(name + " was already set to " + current);
      }
      return Objects.requireNonNull(value, name);
    }

    /** The queue to consume. Required. Its URL's last part is the default namespace. */
    public Builder queueUrl(String url) {
      queueUrl = once(queueUrl, url, "queueUrl");
      return this;
    }

    /** The SQS client (its HTTP client, region and credentials are yours). Required. */
    public Builder sqs(SqsClient client) {
      sqs = once(sqs, client, "sqs");
      return this;
    }

    /** The dedupe client. Required. */
    public Builder dedupe(DedupeClient client) {
      dedupe = once(dedupe, client, "dedupe");
      return this;
    }

    /** The side effect, run once per id. Required. */
    public Builder handler(MessageHandler h) {
      handler = once(handler, h, "handler");
      return this;
    }

    /**
     * Where dead-lettered messages go (a standard or FIFO queue). Required: a conflict or a
     * message without an id can never pass, so it is moved at once rather than received again
     * until a redrive policy's count runs out.
     */
    public Builder deadLetterQueueUrl(String url) {
      deadLetterQueueUrl = once(deadLetterQueueUrl, url, "deadLetterQueueUrl");
      return this;
    }

    /** The dedupe namespace. Default: the queue's name (the last part of its URL). */
    public Builder namespace(String ns) {
      namespace = once(namespace, ns, "namespace");
      return this;
    }

    /**
     * Take each message's id from this message attribute (a String attribute the producer
     * sets). Default: none; FIFO queues then use MessageDeduplicationId and standard queues
     * SQS's MessageId (which differs between a producer's retries: set an attribute or a
     * function when producers may send a message twice).
     */
    public Builder idAttribute(String name) {
      idAttribute = once(idAttribute, name, "idAttribute");
      return this;
    }

    /** Take each message's id from this function (null when it has none). Overrides the rest. */
    public Builder idFunction(Function<Message, String> f) {
      idFunction = once(idFunction, f, "idFunction");
      return this;
    }

    /** A message with no id where the consumer looks. Default: {@link MissingIdPolicy#DEAD_LETTER}. */
    public Builder missingIdPolicy(MissingIdPolicy p) {
      missingId = once(missingId, p, "missingIdPolicy");
      return this;
    }

    /**
     * A message whose id another consumer holds. Default:
     * {@link InProgressPolicy#REDELIVER_AFTER_LEASE}.
     */
    public Builder inProgressPolicy(InProgressPolicy p) {
      inProgress = once(inProgress, p, "inProgressPolicy");
      return this;
    }

    /**
     * How long an id is held for its handler; extended every half lease while the handler
     * runs, and the message's visibility with it. Default 30 s. Too short costs renewals; too
     * long delays the rerun after a crash.
     */
    public Builder lease(Duration d) {
      if (d != null && (d.isNegative() || d.compareTo(Duration.ofSeconds(1)) < 0)) {
        throw new IllegalArgumentException("lease must be at least 1 s, was " + d);
      }
      lease = once(lease, d, "lease");
      return this;
    }

    /**
     * The ApproximateReceiveCount from which a message whose handler throws is dead-lettered
     * instead of retried. Default {@value #DEFAULT_MAX_RECEIVE_COUNT}. Keep a queue redrive
     * policy, if any, above it.
     */
    public Builder maxReceiveCount(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxReceiveCount must be at least 1, was " + n);
      }
      maxReceiveCount = once(maxReceiveCount, n, "maxReceiveCount");
      return this;
    }

    /** The long poll's wait, 0 to 20 s (whole seconds). Default 20 s. */
    public Builder waitTime(Duration d) {
      if (d != null && (d.isNegative() || d.compareTo(MAX_WAIT) > 0)) {
        throw new IllegalArgumentException("waitTime must be 0 to 20 s, was " + d);
      }
      waitTime = once(waitTime, d, "waitTime");
      return this;
    }

    /** The visibility a failed (or not run) message gets before it is retried. Default 0. */
    public Builder failureBackoff(Duration d) {
      if (d != null && d.isNegative()) {
        throw new IllegalArgumentException("failureBackoff must not be negative, was " + d);
      }
      failureBackoff = once(failureBackoff, d, "failureBackoff");
      return this;
    }

    /** How many receive loops (threads) run. Default 1. */
    public Builder consumers(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("consumers must be at least 1, was " + n);
      }
      consumers = once(consumers, n, "consumers");
      return this;
    }

    /** Where the metrics go. Default: a private registry, readable through metrics(). */
    public Builder meterRegistry(MeterRegistry r) {
      registry = once(registry, r, "meterRegistry");
      return this;
    }

    /**
     * Told each decided message's outcome after its SQS writes (delete, visibility, dead
     * letter) were sent, on the receive loop's thread: for instance a duplicate's stored
     * result, {@link EachOutcome.AlreadyDone#result}. A message without an id is dead-lettered
     * before any decision and is not reported. Must not block; what it throws is logged.
     * Default: none.
     */
    public Builder onOutcome(Consumer<EachOutcome<Message>> l) {
      listener = once(listener, l, "onOutcome");
      return this;
    }

    /**
     * @throws IllegalStateException if a required setting is missing
     * @throws IllegalArgumentException if the namespace is not one the service takes
     */
    public DedupeSqsConsumer build() {
      require(queueUrl, "queueUrl");
      require(sqs, "sqs");
      require(dedupe, "dedupe");
      require(handler, "handler");
      require(deadLetterQueueUrl, "deadLetterQueueUrl");
      String ns = namespace != null ? namespace : SqsConsumerConfig.queueName(queueUrl);
      if (ns.isEmpty() || !ns.matches("[A-Za-z0-9._:/-]+")) {
        throw new IllegalArgumentException("namespace must be of [A-Za-z0-9._:/-], was '" + ns
            + "'" + (namespace == null ? " (from the queue URL; set namespace())" : ""));
      }
      SqsConsumerConfig config = new SqsConsumerConfig(queueUrl, queueUrl.endsWith(".fifo"), ns,
          idAttribute, idFunction,
          missingId == null ? MissingIdPolicy.DEAD_LETTER : missingId,
          inProgress == null ? InProgressPolicy.REDELIVER_AFTER_LEASE : inProgress,
          lease == null ? EachSpec.DEFAULT_LEASE : lease,
          maxReceiveCount == null ? DEFAULT_MAX_RECEIVE_COUNT : maxReceiveCount,
          deadLetterQueueUrl,
          waitTime == null ? MAX_WAIT : waitTime,
          failureBackoff == null ? Duration.ZERO : failureBackoff,
          consumers == null ? 1 : consumers);
      return new DedupeSqsConsumer(this, config);
    }

    private static void require(Object value, String name) {
      if (value == null) {
        throw new IllegalStateException(name + " is required");
      }
    }
  }
}
