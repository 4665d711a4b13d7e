package dev.dedupe.rabbitmq;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Delivery;
import com.rabbitmq.client.ShutdownSignalException;
import dev.dedupe.client.DedupeClient;
import dev.dedupe.client.EachOutcome;
import dev.dedupe.client.EachSpec;
import dev.dedupe.queue.BodyDigest;
import dev.dedupe.queue.ConsumerMetrics;
import dev.dedupe.queue.InProgressPolicy;
import dev.dedupe.queue.MissingIdPolicy;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The consumer's one thread: takes the deliveries the channel has pushed (up to prefetch),
 * decides them in one {@link DedupeClient#onceEach} call (which runs the handler for the new
 * ids), and settles each on the channel as its outcome says.
 *
 * <p>Batching: a batch is whatever has arrived when the thread is free, plus what arrives
 * within {@code linger} while it is short of prefetch. While one batch is being handled the
 * broker keeps pushing up to prefetch, so under load batches fill without any wait; the linger
 * only gathers a burst that is still arriving when the thread was idle. Memory is bounded by
 * prefetch: the broker sends no more than that many unacknowledged deliveries.
 *
 * <p>Threads: {@link #offer}, {@link #stop} from the channel's dispatch thread or any other;
 * everything else, the handler and every channel ack included, on this loop's thread. Deferred
 * work (a delivery waiting out another consumer's lease) comes back through the inbox, so that
 * it too is settled here.
 */
final class DeliveryLoop implements Runnable {

  private static final System.Logger log = System.getLogger(DeliveryLoop.class.getName());
  /**
   * Added to another holder's remaining lease before asking again: its commit lands just
   * before its lease ends, and our clock is not the service's.
   */
  private static final Duration AFTER_LEASE_MARGIN = Duration.ofMillis(100);

  /** What the inbox holds. */
  private sealed interface Work {}

  private record Arrived(Delivery delivery) implements Work {}

  /** REDELIVER_AFTER_LEASE: the holder's lease has ended; hand the delivery back to the queue. */
  private record RequeueNow(long tag) implements Work {}

  /** WAIT: the holder's lease has ended; decide the delivery again here. */
  private record DecideAgain(Delivery delivery) implements Work {}

  private record Wake() implements Work {}

  private final RabbitConsumerConfig config;
  private final Channel channel;
  private final DedupeClient client;
  private final DeliveryHandler handler;
  private final ConsumerMetrics metrics;
  private final Consumer<EachOutcome<Delivery>> listener;
  private final ScheduledExecutorService timer;
  private final String consumerTag;
  private final LinkedBlockingQueue<Work> inbox = new LinkedBlockingQueue<>();
  private final Settler settler;
  private final AttemptCounter attempts = new AttemptCounter();
  private volatile boolean stopping;

  DeliveryLoop(RabbitConsumerConfig config, Channel channel, String consumerTag,
      DedupeClient client, DeliveryHandler handler, ConsumerMetrics metrics,
      Consumer<EachOutcome<Delivery>> listener, ScheduledExecutorService timer) {
    this.config = config;
    this.channel = channel;
    this.consumerTag = consumerTag;
    this.client = client;
    this.handler = handler;
    this.metrics = metrics;
    this.listener = listener;
    this.timer = timer;
    this.settler = new Settler(channel);
  }

  /** A delivery pushed by the broker. Any thread. */
  void offer(Delivery delivery) {
    inbox.add(new Arrived(delivery));
  }

  /** Asks the loop to finish its batch, cancel the consumer and requeue the rest. Any thread. */
  void stop() {
    stopping = true;
    inbox.add(new Wake());
  }

  @Override
  public void run() {
    try {
      while (!stopping) {
        List<Delivery> batch = nextBatch();
        if (!batch.isEmpty() && !stopping) {
          decideAndSettle(batch);
        }
      }
      cancelAndRequeue();
    } catch (IOException | ShutdownSignalException e) {
      // The channel is gone: the broker requeues whatever was unacknowledged.
      log.log(Level.WARNING, "queue " + config.queue() + ": channel closed, consumer stops", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log.log(Level.ERROR, "queue " + config.queue() + ": consumer failed and stops", e);
      try {
        cancelAndRequeue();
      } catch (IOException | RuntimeException again) {
        e.addSuppressed(again);
      }
    }
  }

  private List<Delivery> nextBatch() throws InterruptedException, IOException {
    List<Delivery> batch = new ArrayList<>();
    Work first = inbox.take();
    take(first, batch);
    List<Work> more = new ArrayList<>();
    inbox.drainTo(more, config.prefetch());
    for (Work w : more) {
      take(w, batch);
    }
    long lingerNanos = config.linger().toNanos();
    long until = System.nanoTime() + lingerNanos;
    while (lingerNanos > 0 && batch.size() < config.prefetch() && !stopping) {
      long left = until - System.nanoTime();
      if (left <= 0) {
        break;
      }
      Work w = inbox.poll(left, TimeUnit.NANOSECONDS);
      if (w == null) {
        break;
      }
      take(w, batch);
    }
    return batch;
  }

  private void take(Work work, List<Delivery> batch) throws IOException {
    switch (work) {
      case Arrived a -> {
        settler.received(a.delivery().getEnvelope().getDeliveryTag());
        batch.add(a.delivery());
      }
      case DecideAgain again -> batch.add(again.delivery());
      case RequeueNow r -> settler.requeue(r.tag());
      case Wake w -> { }
    }
  }

  private void decideAndSettle(List<Delivery> batch) throws IOException {
    // Ids are read once, before the call: the spec's id function and the missing-id policy
    // both need them, and a missing id must be told apart from an invalid one for the metrics.
    Map<Delivery, String> ids = new IdentityHashMap<>();
    for (Delivery d : batch) {
      String id = config.idSource().idOf(d);
      if ((id == null || id.isEmpty()) && config.missingId() == MissingIdPolicy.BODY_DIGEST) {
        id = BodyDigest.id(d.getBody());
      }
      ids.put(d, id);
    }
    EachSpec<Delivery> spec = EachSpec.<Delivery>ids(ids::get).withLease(config.lease());
    if (config.fingerprintBodies()) {
      spec = spec.withFingerprints(d -> BodyDigest.fingerprint(d.getBody()));
    }
    // One call for the whole batch. An id twice in it is onceEach's to sort out: a later copy
    // with the same body gets the first copy's outcome, one with another body is NotRun
    // (requeued here) and decided on its own when it comes back: CONFLICT, dead-lettered.
    List<EachOutcome<Delivery>> outcomes = client.onceEach(config.namespace(), batch, spec,
        d -> metrics.handler().recordCallable(() -> handler.handle(d)));
    settle(outcomes, ids);
  }

  private void settle(List<EachOutcome<Delivery>> outcomes, Map<Delivery, String> ids)
      throws IOException {
    List<Long> acks = new ArrayList<>();
    for (EachOutcome<Delivery> outcome : outcomes) {
      metrics.record(outcome);
      long tag = outcome.message().getEnvelope().getDeliveryTag();
      switch (outcome) {
        case EachOutcome.Executed<Delivery> e -> {
          attempts.finished(e.messageId());
          acks.add(tag);
        }
        case EachOutcome.AlreadyDone<Delivery> a -> acks.add(tag);
        // It ran; its commit failed, so its lease runs out. Acknowledged: running it again
        // now would repeat the effect for sure, while the lease may still protect the id.
        case EachOutcome.Unconfirmed<Delivery> u -> acks.add(tag);
        case EachOutcome.Conflict<Delivery> c -> deadLetter(tag, "conflict");
        case EachOutcome.Invalid<Delivery> i -> {
          String id = ids.get(i.message());
          deadLetter(tag, id == null || id.isEmpty() ? "missing_id" : "invalid");
        }
        case EachOutcome.NotRun<Delivery> n -> settler.requeue(tag);
        case EachOutcome.Failed<Delivery> f -> {
          int deliveries = attempts.failed(f.message(), f.messageId());
          if (deliveries >= config.deliveryLimit()) {
            attempts.finished(f.messageId());
            deadLetter(tag, "delivery_limit");
          } else {
            settler.requeue(tag);
          }
        }
        case EachOutcome.InProgressElsewhere<Delivery> p -> afterLease(p);
      }
      if (listener != null) {
        listener.accept(outcome);
      }
    }
    settler.ack(acks);
  }

  private void deadLetter(long tag, String reason) throws IOException {
    settler.deadLetter(tag);
    metrics.deadLettered(reason);
  }

  /** Holds the delivery until the holder's lease ends, then requeues or re-decides it. */
  private void afterLease(EachOutcome.InProgressElsewhere<Delivery> p) {
    Duration left = Duration.between(Instant.now(), p.leaseExpiresAt());
    long delayMs = Math.max(0, left.toMillis()) + AFTER_LEASE_MARGIN.toMillis();
    Delivery d = p.message();
    Work work = config.inProgress() == InProgressPolicy.WAIT
        ? new DecideAgain(d)
        : new RequeueNow(d.getEnvelope().getDeliveryTag());
    timer.schedule(() -> inbox.add(work), delayMs, TimeUnit.MILLISECONDS);
  }

  private void cancelAndRequeue() throws IOException {
    if (channel.isOpen()) {
      channel.basicCancel(consumerTag);
      // Every delivery not acknowledged yet, including any still on its way to the inbox
      // (all were sent before the cancel-ok): back to the queue in one frame.
      channel.basicNack(0, true, true);
    }
  }
}
