package dev.dedupe.rabbitmq;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import dev.dedupe.client.DedupeClient;
import dev.dedupe.queue.InProgressPolicy;
import dev.dedupe.queue.MissingIdPolicy;
import dev.dedupe.server.testing.Conditions;
import dev.dedupe.server.testing.LoopbackNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * DedupeRabbitConsumer against a real RabbitMQ broker and a real dedupe node: repeated ids
 * across two consumers, failing handlers, the quorum queue's delivery limit, a handler that
 * outlives its lease, messages without ids, and an id reused for another body. The handlers
 * write a side-effect ledger; the assertions read it.
 */
class DedupeRabbitConsumerTest {

  @TempDir static Path dir;
  private static LoopbackNode node;
  private static DedupeClient client;
  private static ConnectionFactory factory;

  private final List<AutoCloseable> toClose = new ArrayList<>();
  private Connection admin;
  private Channel adminChannel;
  private String queue;

  @BeforeAll
  static void startNode() {
    node = LoopbackNode.start(dir);
    client = DedupeClient.builder().target(node.address()).build();
  }

  @AfterAll
  static void stopNode() {
    if (client != null) {
      client.close();
    }
    if (node != null) {
      node.close();
    }
  }

  @BeforeEach
  void connect() throws Exception {
    factory = RabbitBroker.require();
    admin = factory.newConnection("dedupe-test-admin");
    adminChannel = admin.createChannel();
    queue = "dedupe-test-" + UUID.randomUUID();
  }

  @AfterEach
  void closeAll() throws Exception {
    if (admin == null) {
      return; // skipped: no broker
    }
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
    RabbitBroker.delete(adminChannel, queue);
    admin.close();
  }

  private Connection connection(String name) throws Exception {
    Connection c = factory.newConnection(name);
    toClose.add(c);
    return c;
  }

  private DedupeRabbitConsumer start(DedupeRabbitConsumer.Builder b) throws Exception {
    DedupeRabbitConsumer c = b.client(client).queue(queue).build().start();
    toClose.add(c);
    return c;
  }

  /** Publishes with publisher confirms, waiting for every confirm. */
  private void publish(Channel ch, List<String[]> idAndBody) throws Exception {
    ch.confirmSelect();
    for (String[] m : idAndBody) {
      AMQP.BasicProperties.Builder props = new AMQP.BasicProperties.Builder().deliveryMode(2);
      if (m[0] != null) {
        props.messageId(m[0]);
      }
      ch.basicPublish("", queue, props.build(), m[1].getBytes(UTF_8));
    }
    ch.waitForConfirmsOrDie(60_000);
  }

  private long depth(String q) throws IOException {
    return adminChannel.queueDeclarePassive(q).getMessageCount();
  }

  private static String idOf(com.rabbitmq.client.Delivery d) {
    return d.getProperties().getMessageId();
  }

  @ParameterizedTest(name = "{0} queue")
  @ValueSource(strings = {"classic", "quorum"})
  void repeatedIdsAcrossTwoConsumersHaveTheirEffectOnce(String type) throws Exception {
    RabbitBroker.declareWithDeadLetters(adminChannel, queue, type);
    int distinct = 2_400;
    int total = 3_000; // 600 repeats of earlier ids: 20% of the messages
    Random random = new Random(13);
    List<String[]> messages = new ArrayList<>();
    for (int i = 0; i < distinct; i++) {
      messages.add(new String[] {"order-" + i, "charge " + i});
    }
    for (int i = distinct; i < total; i++) {
      int j = random.nextInt(distinct);
      messages.add(random.nextInt(messages.size() + 1), new String[] {"order-" + j, "charge " + j});
    }

    Ledger ledger = new Ledger();
    Set<String> failedOnce = ConcurrentHashMap.newKeySet();
    DeliveryHandler handler = d -> {
      String id = idOf(d);
      // One id in 25 fails its first run, before any effect, then succeeds when redelivered.
      if (Math.floorMod(id.hashCode(), 25) == 0 && failedOnce.add(id)) {
        throw new IllegalStateException("card service timed out for " + id);
      }
      ledger.effect(id);
      return ("charged " + id).getBytes(UTF_8);
    };
    DedupeRabbitConsumer a = start(DedupeRabbitConsumer.builder()
        .connection(connection("consumer-a")).handler(handler).prefetch(50));
    DedupeRabbitConsumer b = start(DedupeRabbitConsumer.builder()
        .connection(connection("consumer-b")).handler(handler).prefetch(50));

    // Two producers, each on its own channel with confirms.
    Connection producers = connection("producers");
    Channel p1 = producers.createChannel();
    Channel p2 = producers.createChannel();
    Thread second = new Thread(() -> {
      try {
        publish(p2, messages.subList(total / 2, total));
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    second.start();
    publish(p1, messages.subList(0, total / 2));
    second.join();

    Conditions.await(Conditions.LONG, "every message acknowledged", () ->
        acked(a) + acked(b) == total,
        () -> "a=" + counts(a) + " b=" + counts(b));
    assertEquals(0, depth(queue), "queue drained");
    assertEquals(Map.of(), ledger.repeated(), "ids whose effect ran more than once");
    assertEquals(distinct, ledger.distinctIds(), "every id's effect ran");
    assertEquals(distinct, a.metrics().count("handled") + b.metrics().count("handled"));
    assertEquals(total - distinct,
        a.metrics().count("duplicate") + b.metrics().count("duplicate"));
    assertTrue(a.metrics().count("failed") + b.metrics().count("failed") >= failedOnce.size());
    assertTrue(a.metrics().count("handled") > 0 && b.metrics().count("handled") > 0,
        "both consumers took part: a=" + counts(a) + " b=" + counts(b));
    assertEquals(0, depth(queue + ".dlq"), "nothing dead-lettered");
  }

  private static long acked(DedupeRabbitConsumer c) {
    return c.metrics().count("handled") + c.metrics().count("duplicate")
        + c.metrics().count("unconfirmed");
  }

  private static String counts(DedupeRabbitConsumer c) {
    StringBuilder s = new StringBuilder();
    for (String o : List.of("handled", "duplicate", "in_progress_elsewhere", "failed",
        "not_run", "conflict", "invalid", "unconfirmed")) {
      s.append(o).append('=').append(c.metrics().count(o)).append(' ');
    }
    return s.toString().trim();
  }

  @Test
  void quorumQueueDeadLettersAtTheDeliveryLimitByItsDeliveryCount() throws Exception {
    RabbitBroker.declareWithDeadLetters(adminChannel, queue, "quorum");
    AtomicInteger poisonRuns = new AtomicInteger();
    List<Integer> counts = new ArrayList<>();
    Ledger ledger = new Ledger();
    DedupeRabbitConsumer c = start(DedupeRabbitConsumer.builder()
        .connection(connection("consumer")).deliveryLimit(3).prefetch(10)
        .handler(d -> {
          if (idOf(d).equals("poison")) {
            poisonRuns.incrementAndGet();
            counts.add(AttemptCounter.brokerCount(d));
            throw new IllegalArgumentException("cannot parse");
          }
          ledger.effect(idOf(d));
          return null;
        }));
    publish(adminChannel, List.of(new String[] {"poison", "garbage"}, new String[] {"fine", "ok"}));

    // Counted just after the broker has it: wait for the count too.
    Conditions.await(Conditions.LONG, "the poison message in the dead-letter queue, and counted",
        () -> depthQuietly(queue + ".dlq") == 1
            && c.metrics().deadLetteredCount("delivery_limit") >= 1, () -> counts(c));
    assertEquals(3, poisonRuns.get(), "ran on each of its 3 deliveries, then dead-lettered");
    // The broker's own count: none on the first delivery, then 1 and 2 earlier deliveries.
    assertEquals(List.of(1, 2), counts.subList(1, 3), "x-delivery-count seen: " + counts);
    assertEquals(1, c.metrics().deadLetteredCount("delivery_limit"));
    assertEquals(1, ledger.effects("fine"));
    GetResponse dead = adminChannel.basicGet(queue + ".dlq", true);
    assertNotNull(dead);
    assertEquals("poison", dead.getProps().getMessageId());
  }

  private long depthQuietly(String q) {
    try {
      return depth(q);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(InProgressPolicy.class)
  void aSlowHandlerOutlivesItsFirstLeaseAndItsDuplicateDoesNotRunAgain(InProgressPolicy policy)
      throws Exception {
    RabbitBroker.declareWithDeadLetters(adminChannel, queue, "classic");
    Ledger ledger = new Ledger();
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch slowStarted = new CountDownLatch(1);
    DeliveryHandler handler = d -> {
      slowStarted.countDown();
      // Holds until the test has seen the duplicate refused twice, the second time after the
      // first lease's end: the lease was extended while this ran.
      assertTrue(release.await(120, TimeUnit.SECONDS), "never released");
      ledger.effect(idOf(d));
      return null;
    };
    Duration lease = Duration.ofSeconds(1);
    // prefetch 1 on the slow one: the broker cannot hand it the duplicate while it is busy.
    DedupeRabbitConsumer slow = start(DedupeRabbitConsumer.builder()
        .connection(connection("slow")).handler(handler).prefetch(1).lease(lease)
        .inProgress(policy));
    publish(adminChannel, List.<String[]>of(new String[] {"slow-1", "x"}));
    assertTrue(slowStarted.await(60, TimeUnit.SECONDS));
    DedupeRabbitConsumer other = start(DedupeRabbitConsumer.builder()
        .connection(connection("other")).handler(handler).prefetch(1).lease(lease)
        .inProgress(policy));
    publish(adminChannel, List.<String[]>of(new String[] {"slow-1", "x"}));

    Conditions.await(Conditions.LONG, "the duplicate refused as in progress twice",
        () -> other.metrics().count("in_progress_elsewhere") >= 2, () -> counts(other));
    release.countDown();
    Conditions.await(Conditions.LONG, "the duplicate acknowledged as a duplicate",
        () -> slow.metrics().count("duplicate") + other.metrics().count("duplicate") == 1
            && slow.metrics().count("handled") == 1,
        () -> "slow " + counts(slow) + " other " + counts(other));
    assertEquals(1, ledger.effects("slow-1"));
    assertEquals(0, depth(queue));
  }

  @Test
  void aMessageWithoutAnIdIsDeadLetteredByDefault() throws Exception {
    RabbitBroker.declareWithDeadLetters(adminChannel, queue, "classic");
    Ledger ledger = new Ledger();
    DedupeRabbitConsumer c = start(DedupeRabbitConsumer.builder()
        .connection(connection("consumer"))
        .handler(d -> {
          ledger.effect(new String(d.getBody(), UTF_8));
          return null;
        }));
    publish(adminChannel, List.of(new String[] {null, "anonymous"}, new String[] {"id-1", "b"}));

    Conditions.await(Conditions.LONG, "the id-less message dead-lettered",
        () -> depthQuietly(queue + ".dlq") == 1 && c.metrics().count("handled") == 1,
        () -> counts(c));
    assertEquals(1, c.metrics().deadLetteredCount("missing_id"));
    assertEquals(0, ledger.effects("anonymous"), "never ran");
  }

  @Test
  void withBodyDigestAMessageWithoutAnIdIsKnownByItsBody() throws Exception {
    RabbitBroker.declareWithDeadLetters(adminChannel, queue, "classic");
    Ledger ledger = new Ledger();
    DedupeRabbitConsumer c = start(DedupeRabbitConsumer.builder()
        .connection(connection("consumer")).missingId(MissingIdPolicy.BODY_DIGEST)
        .handler(d -> {
          ledger.effect(new String(d.getBody(), UTF_8));
          return null;
        }));
    publish(adminChannel, List.of(new String[] {null, "event-7"}, new String[] {null, "event-7"},
        new String[] {null, "event-8"}));

    Conditions.await(Conditions.LONG, "three messages settled",
        () -> c.metrics().count("handled") + c.metrics().count("duplicate") == 3,
        () -> counts(c));
    assertEquals(1, ledger.effects("event-7"));
    assertEquals(1, ledger.effects("event-8"));
    assertEquals(0, depth(queue + ".dlq"));
  }

  @Test
  void anIdFromAHeader() throws Exception {
    RabbitBroker.declareWithDeadLetters(adminChannel, queue, "classic");
    Ledger ledger = new Ledger();
    DedupeRabbitConsumer c = start(DedupeRabbitConsumer.builder()
        .connection(connection("consumer")).idHeader("order-id")
        .handler(d -> {
          ledger.effect(d.getProperties().getHeaders().get("order-id").toString());
          return null;
        }));
    adminChannel.confirmSelect();
    for (int i = 0; i < 3; i++) {
      adminChannel.basicPublish("", queue, new AMQP.BasicProperties.Builder()
          .messageId("ignored-" + i).headers(Map.of("order-id", "o-42")).build(), "x".getBytes(UTF_8));
    }
    adminChannel.waitForConfirmsOrDie(60_000);
    Conditions.await(Conditions.LONG, "three settled",
        () -> c.metrics().count("handled") + c.metrics().count("duplicate") == 3,
        () -> counts(c));
    assertEquals(1, ledger.effects("o-42"));
  }

  @Test
  void anIdReusedForAnotherBodyIsAConflictAndDeadLettered() throws Exception {
    RabbitBroker.declareWithDeadLetters(adminChannel, queue, "quorum");
    Ledger ledger = new Ledger();
    List<String> results = new ArrayList<>();
    Consumer<dev.dedupe.client.EachOutcome<com.rabbitmq.client.Delivery>> listener = o -> {
      if (o instanceof dev.dedupe.client.EachOutcome.AlreadyDone<?> done) {
        results.add(new String(done.result(), UTF_8));
      }
    };
    DedupeRabbitConsumer c = start(DedupeRabbitConsumer.builder()
        .connection(connection("consumer")).onOutcome(listener)
        .handler(d -> {
          ledger.effect(idOf(d));
          return ("receipt for " + new String(d.getBody(), UTF_8)).getBytes(UTF_8);
        }));
    publish(adminChannel, List.<String[]>of(new String[] {"pay-1", "10 EUR"}));
    Conditions.await("the first handled", () -> c.metrics().count("handled") == 1);
    publish(adminChannel, List.of(new String[] {"pay-1", "99 EUR"}, new String[] {"pay-1", "10 EUR"}));

    Conditions.await(Conditions.LONG, "the reuse dead-lettered and the retry skipped",
        () -> depthQuietly(queue + ".dlq") == 1 && c.metrics().count("duplicate") == 1,
        () -> counts(c));
    assertEquals(1, c.metrics().deadLetteredCount("conflict"));
    assertEquals(1, ledger.effects("pay-1"));
    assertEquals(List.of("receipt for 10 EUR"), results, "the duplicate saw the stored result");
    assertEquals("99 EUR", new String(adminChannel.basicGet(queue + ".dlq", true).getBody(), UTF_8));
  }
}
