package dev.dedupe.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import dev.dedupe.client.DedupeClient;
import dev.dedupe.client.EachOutcome;
import dev.dedupe.client.EachSpec;
import dev.dedupe.queue.ConsumerMetrics;
import dev.dedupe.queue.InProgressPolicy;
import dev.dedupe.queue.MissingIdPolicy;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * A RabbitMQ consumer whose handler's side effect happens once per message id: redeliveries,
 * producer retries, a consumer's crash and concurrent consumers do not repeat it.
 *
 * <pre>{@code
 * DedupeClient dedupe = DedupeClient.builder().target("dedupe:50051").build();
 * Connection rabbit = new ConnectionFactory().newConnection();
 * DedupeRabbitConsumer consumer = DedupeRabbitConsumer.builder()
 *     .connection(rabbit)              // or .channel(ch): a channel only this consumer uses
 *     .queue("payments")               // also the dedupe namespace, unless .namespace(...)
 *     .client(dedupe)
 *     .handler(delivery -> {           // runs once per message_id
 *       String chargeId = cards.charge(delivery.getBody());
 *       return chargeId.getBytes(UTF_8);  // stored with the id: a rerun can look it up
 *     })
 *     .build()
 *     .start();
 * // ... at shutdown: consumer.close(); then the connection and the client.
 * }</pre>
 *
 * <p>What it does with each delivery: the deliveries on hand (up to the prefetch) are decided
 * in one {@link DedupeClient#onceEach} call. A new id's handler runs with the id leased (the
 * lease is extended while it runs), its result is committed, and the delivery acknowledged. A
 * duplicate is acknowledged without running. An id another consumer holds is requeued when
 * that consumer's lease ends ({@link InProgressPolicy}). An id reused for another body is a
 * conflict and is rejected to the dead-letter queue, as is a delivery without an id under
 * {@link MissingIdPolicy#DEAD_LETTER}. A handler that throws has its lease released and its
 * delivery requeued, until the delivery limit, then it is dead-lettered. Acknowledgements are
 * batched ({@code basicAck(tag, multiple=true)}); every ack is sent from the consumer's own
 * thread.
 *
 * <p>The guarantee: the handler runs to completion at most once per id within the service's
 * window, except when a process dies after the side effect and before the commit; then the
 * lease runs out, the broker redelivers, and it runs again. Make that case harmless by
 * returning the effect's own key (so a rerun can find it) or by an idempotent effect.
 *
 * <p>Threads: one consumer is one channel and one thread, which runs the handler one delivery
 * at a time. For more parallelism start several consumers, each on its own channel.
 */
public final class DedupeRabbitConsumer implements AutoCloseable {

  private final RabbitConsumerConfig config;
  private final Channel channel;
  private final boolean ownsChannel;
  private final ConsumerMetrics metrics;
  private final DeliveryLoop loop;
  private final ScheduledExecutorService timer;
  private final Thread thread;
  private final String consumerTag;
  private volatile boolean started;

  private DedupeRabbitConsumer(Builder b, Channel channel, boolean ownsChannel) {
    this.config = new RabbitConsumerConfig(b.queue, b.namespace == null ? b.queue : b.namespace,
        b.idSource, b.missingId, b.inProgress, b.lease, b.prefetch, b.linger, b.deliveryLimit,
        b.fingerprintBodies);
    this.channel = channel;
    this.ownsChannel = ownsChannel;
    this.metrics = new ConsumerMetrics(b.registry, "rabbitmq", b.queue);
    this.consumerTag = "dedupe-" + b.queue + "-" + UUID.randomUUID();
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "dedupe-rabbit-timer-" + b.queue);
      t.setDaemon(true);
      return t;
    });
    this.loop = new DeliveryLoop(config, channel, consumerTag, b.client, b.handler, metrics,
        b.listener, timer);
    this.thread = new Thread(loop, "dedupe-rabbit-" + b.queue);
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Sets the channel's prefetch and starts consuming.
   *
   * @return this consumer
   * @throws UncheckedIOException if the broker refused (no such queue, channel closed)
   * @throws IllegalStateException if already started
   */
  public DedupeRabbitConsumer start() {
    if (started) {
      throw new IllegalStateException("consumer of " + config.queue() + " already started");
    }
    started = true;
    try {
      channel.basicQos(config.prefetch());
      thread.start();
      channel.basicConsume(config.queue(), false, consumerTag, new DefaultConsumer(channel) {
        @Override
        public void handleDelivery(String tag, Envelope envelope, AMQP.BasicProperties props,
            byte[] body) {
          loop.offer(new Delivery(envelope, props, body));
        }

        @Override
        public void handleCancel(String tag) {
          loop.stop(); // the broker cancelled us: the queue was deleted
        }

        @Override
        public void handleShutdownSignal(String tag, ShutdownSignalException sig) {
          loop.stop();
        }
      });
    } catch (IOException e) {
      loop.stop();
      throw new UncheckedIOException("cannot consume queue " + config.queue(), e);
    }
    return this;
  }

  /** The counters and handler timer (also in the builder's MeterRegistry, if one was given). */
  public ConsumerMetrics metrics() {
    return metrics;
  }

  public RabbitConsumerConfig config() {
    return config;
  }

  /**
   * Stops: the handler running now finishes and its batch is settled; the consumer is
   * cancelled and every delivery not yet decided goes back to the queue. Closes the channel if
   * the consumer opened it (built with a Connection). Waits for the consumer's thread.
   */
  @Override
  public void close() {
    loop.stop();
    if (started) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    timer.shutdownNow();
    if (ownsChannel && channel.isOpen()) {
      try {
        channel.close();
      } catch (IOException | TimeoutException | ShutdownSignalException e) {
        // Already closing: the broker requeues what is unacknowledged either way.
      }
    }
  }

  /**
   * Builds a {@link DedupeRabbitConsumer}. Required: a channel or connection, the queue, the
   * client and the handler. Each setter says its default.
   */
  public static final class Builder {
    private Channel channel;
    private Connection connection;
    private String queue;
    private String namespace;
    private DedupeClient client;
    private DeliveryHandler handler;
    private IdSource idSource = IdSource.messageId();
    private MissingIdPolicy missingId = MissingIdPolicy.DEAD_LETTER;
    private InProgressPolicy inProgress = InProgressPolicy.REDELIVER_AFTER_LEASE;
    private Duration lease = EachSpec.DEFAULT_LEASE;
    private int prefetch = 50;
    private Duration linger = Duration.ofMillis(1);
    private int deliveryLimit = 5;
    private boolean fingerprintBodies = true;
    private MeterRegistry registry;
    private Consumer<EachOutcome<Delivery>> listener;

    private Builder() {}

    /**
     * The channel to consume on. It must be this consumer's alone: acknowledgements use
     * {@code multiple=true}, which would settle another consumer's deliveries too. The
     * consumer sets its prefetch; closing the consumer leaves it open.
     */
    public Builder channel(Channel channel) {
      this.channel = Objects.requireNonNull(channel, "channel");
      return this;
    }

    /** A connection to open the consumer's own channel on (closed with the consumer). */
    public Builder connection(Connection connection) {
      this.connection = Objects.requireNonNull(connection, "connection");
      return this;
    }

    /** The queue to consume; it must exist (classic or quorum). */
    public Builder queue(String queue) {
      this.queue = requireText(queue, "queue");
      return this;
    }

    /**
     * The dedupe namespace of the ids. Default: the queue's name. Consumers of queues that
     * carry the same messages (a fan-out's copies meant to run once in all) share one.
     */
    public Builder namespace(String namespace) {
      this.namespace = requireText(namespace, "namespace");
      return this;
    }

    public Builder client(DedupeClient client) {
      this.client = Objects.requireNonNull(client, "client");
      return this;
    }

    public Builder handler(DeliveryHandler handler) {
      this.handler = Objects.requireNonNull(handler, "handler");
      return this;
    }

    /** Where ids come from. Default: the AMQP {@code message_id} property. */
    public Builder idSource(IdSource idSource) {
      this.idSource = Objects.requireNonNull(idSource, "idSource");
      return this;
    }

    /** Take ids from the header {@code name} instead of {@code message_id}. */
    public Builder idHeader(String name) {
      return idSource(IdSource.header(requireText(name, "header name")));
    }

    /** What a delivery without an id gets. Default: DEAD_LETTER (never passes silently). */
    public Builder missingId(MissingIdPolicy policy) {
      this.missingId = Objects.requireNonNull(policy, "missingId");
      return this;
    }

    /**
     * What a delivery whose id another consumer holds gets. Default: REDELIVER_AFTER_LEASE
     * (held, unacknowledged, until the holder's lease ends, then requeued); WAIT decides it
     * again here instead, with no trip through the broker.
     */
    public Builder inProgress(InProgressPolicy policy) {
      this.inProgress = Objects.requireNonNull(policy, "inProgress");
      return this;
    }

    /**
     * How long an id is held for its handler before another consumer may take it; extended
     * every half lease while the handler runs. Default 30 s. Too short: a stalled process
     * (GC, network) loses it while its handler runs, and a duplicate may run alongside. Too
     * long: after a crash between effect and commit, the redelivery waits this long.
     */
    public Builder lease(Duration lease) {
      Objects.requireNonNull(lease, "lease");
      if (lease.isNegative() || lease.isZero()) {
        throw new IllegalArgumentException("lease must be positive, was " + lease);
      }
      this.lease = lease;
      return this;
    }

    /**
     * The channel's prefetch (basicQos), and so the largest batch decided in one call. Default
     * 50. Larger: fewer calls per message and fewer ack frames, but more deliveries wait behind
     * a slow handler on this consumer's one thread, and more are redelivered if it dies.
     */
    public Builder prefetch(int prefetch) {
      if (prefetch < 1 || prefetch > 65_535) {
        throw new IllegalArgumentException("prefetch must be 1..65535, was " + prefetch);
      }
      this.prefetch = prefetch;
      return this;
    }

    /**
     * How long to wait for more deliveries when fewer than the prefetch are on hand. Default
     * 1 ms: under load, batches fill while the previous one is handled, with no wait at all;
     * the linger only gathers a burst still arriving. Zero disables it.
     */
    public Builder linger(Duration linger) {
      Objects.requireNonNull(linger, "linger");
      if (linger.isNegative()) {
        throw new IllegalArgumentException("linger must not be negative, was " + linger);
      }
      this.linger = linger;
      return this;
    }

    /**
     * Deliveries of a message (this one included) after which a handler that keeps throwing
     * sends it to the dead-letter queue rather than back to the queue. Default 5. Quorum
     * queues count with {@code x-delivery-count}; classic queues in this consumer's memory
     * (see the docs).
     */
    public Builder deliveryLimit(int deliveries) {
      if (deliveries < 1) {
        throw new IllegalArgumentException("deliveryLimit must be at least 1, was " + deliveries);
      }
      this.deliveryLimit = deliveries;
      return this;
    }

    /**
     * Whether each id goes with its body's SHA-256, so that an id reused for another body is a
     * conflict (dead-lettered, counted) rather than skipped as a duplicate. Default true; turn
     * it off when producers legitimately resend an id with a changed body (a timestamp).
     */
    public Builder fingerprintBodies(boolean on) {
      this.fingerprintBodies = on;
      return this;
    }

    /** Where the counters and the handler timer go. Default: a private registry. */
    public Builder meterRegistry(MeterRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * Told every delivery's outcome after it is settled, on the consumer's thread (for
     * instance a duplicate's stored result, {@link EachOutcome.AlreadyDone#result}). Must not
     * block. Default: none.
     */
    public Builder onOutcome(Consumer<EachOutcome<Delivery>> listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /**
     * @throws IllegalStateException if a required setting is missing, or both a channel and a
     *     connection were given
     * @throws UncheckedIOException if a channel could not be opened on the connection
     */
    public DedupeRabbitConsumer build() {
      if ((channel == null) == (connection == null)) {
        throw new IllegalStateException("give exactly one of channel(...) or connection(...)");
      }
      requireSet(queue, "queue");
      requireSet(client, "client");
      requireSet(handler, "handler");
      if (channel != null) {
        return new DedupeRabbitConsumer(this, channel, false);
      }
      try {
        return new DedupeRabbitConsumer(this, connection.createChannel(), true);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot open a channel for queue " + queue, e);
      }
    }

    private static void requireSet(Object value, String name) {
      if (value == null) {
        throw new IllegalStateException(name + "(...) is required");
      }
    }

    private static String requireText(String value, String name) {
      Objects.requireNonNull(value, name);
      if (value.isBlank()) {
        throw new IllegalArgumentException(name + " must not be blank");
      }
      return value;
    }
  }
}
