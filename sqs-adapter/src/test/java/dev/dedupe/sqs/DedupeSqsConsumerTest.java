package dev.dedupe.sqs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.client.Decision;
import dev.dedupe.client.DedupeClient;
import dev.dedupe.client.EachOutcome;
import dev.dedupe.client.InsertOptions;
import dev.dedupe.queue.BodyDigest;
import dev.dedupe.queue.InProgressPolicy;
import dev.dedupe.queue.MissingIdPolicy;
import dev.dedupe.server.testing.Conditions;
import dev.dedupe.server.testing.LoopbackNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageAttributeValue;
import software.amazon.awssdk.services.sqs.model.SendMessageBatchRequestEntry;

/**
 * DedupeSqsConsumer against ElasticMQ (a real SQS-compatible server, FIFO included) through the
 * real AWS SDK client, and a real dedupe node. Every scenario checks a side-effect ledger the
 * handlers write: how many times each id's effect happened, and in what order.
 */
class DedupeSqsConsumerTest {

  static final String ID = "order-id";

  @TempDir static Path dir;
  static ElasticMq mq;
  static LoopbackNode node;
  static SqsClient sqs;

  private final List<DedupeSqsConsumer> consumers = new ArrayList<>();
  private final List<DedupeClient> clients = new ArrayList<>();
  /** The ledger: id -> times its effect happened. */
  private final Map<String, AtomicInteger> effects = new ConcurrentHashMap<>();
  private final List<String> order = Collections.synchronizedList(new ArrayList<>());

  @BeforeAll
  static void startServers() {
    mq = ElasticMq.start();
    sqs = mq.client();
    node = LoopbackNode.start(dir);
  }

  @AfterAll
  static void stopServers() {
    sqs.close();
    mq.close();
    node.close();
  }

  @AfterEach
  void closeConsumers() {
    consumers.forEach(DedupeSqsConsumer::close);
    clients.forEach(DedupeClient::close);
  }

  private static String queue(String name) {
    return ElasticMq.createQueue(sqs, name + "-" + UUID.randomUUID().toString().substring(0, 8)
        + (name.endsWith("fifo") ? ".fifo" : ""));
  }

  /** The effect: counted per id, in order. */
  private byte[] effect(Message m) {
    String id = idOf(m);
    effects.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
    order.add(id);
    return ("done " + id).getBytes(StandardCharsets.UTF_8);
  }

  private static String idOf(Message m) {
    MessageAttributeValue v = m.messageAttributes().get(ID);
    return v == null ? "body:" + m.body() : v.stringValue();
  }

  private int effectsOf(String id) {
    AtomicInteger n = effects.get(id);
    return n == null ? 0 : n.get();
  }

  private DedupeSqsConsumer consumer(String url, String dlq, MessageHandler handler,
      Consumer<DedupeSqsConsumer.Builder> more) {
    DedupeClient dedupe = DedupeClient.builder().target(node.address()).build();
    clients.add(dedupe);
    DedupeSqsConsumer.Builder b = DedupeSqsConsumer.builder().queueUrl(url).sqs(sqs)
        .dedupe(dedupe).deadLetterQueueUrl(dlq).handler(handler).waitTime(Duration.ofSeconds(1));
    more.accept(b);
    DedupeSqsConsumer c = b.build();
    consumers.add(c);
    c.start();
    return c;
  }

  /** Sends (id, body) pairs in batches of ten; FIFO messages go to {@code groupOf(id)}. */
  private static void send(String url, List<String[]> messages,
      java.util.function.Function<String, String> groupOf) {
    boolean fifo = url.endsWith(".fifo");
    for (int i = 0; i < messages.size(); i += 10) {
      List<SendMessageBatchRequestEntry> entries = new ArrayList<>();
      for (int j = i; j < Math.min(i + 10, messages.size()); j++) {
        String[] m = messages.get(j);
        var e = SendMessageBatchRequestEntry.builder().id(Integer.toString(j - i))
            .messageBody(m[1]);
        if (m[0] != null) {
          e.messageAttributes(Map.of(ID, MessageAttributeValue.builder().dataType("String")
              .stringValue(m[0]).build()));
        }
        if (fifo) {
          // A fresh dedup id per send: repeats of an id are producer retries SQS's own
          // 5-minute deduplication would not catch (after the window, or a new send).
          e.messageGroupId(groupOf.apply(m[0])).messageDeduplicationId(UUID.randomUUID().toString());
        }
        entries.add(e.build());
      }
      var r = sqs.sendMessageBatch(b -> b.queueUrl(url).entries(entries));
      assertTrue(r.failed().isEmpty(), "sends failed: " + r.failed());
    }
  }

  /** {@code n} messages over ids where 20% are repeats of an earlier id, shuffled. */
  private static List<String[]> withRepeats(String prefix, int n) {
    List<String[]> out = new ArrayList<>();
    int distinct = n * 8 / 10;
    for (int i = 0; i < distinct; i++) {
      out.add(new String[] {prefix + i, "body " + prefix + i});
    }
    java.util.Random random = new java.util.Random(42);
    while (out.size() < n) {
      int i = random.nextInt(distinct);
      out.add(new String[] {prefix + i, "body " + prefix + i});
    }
    Collections.shuffle(out, random);
    return out;
  }

  private static int dlqSize(String dlq) {
    return ElasticMq.backlog(sqs, dlq);
  }

  @Test
  void twoConsumersHandleEachIdOnceOnStandardAndFifoQueues() throws Exception {
    String standard = queue("orders");
    String fifo = queue("orders-fifo");
    String dlq = queue("orders-dlq");
    List<String[]> s = withRepeats("s", 2000);
    List<String[]> f = withRepeats("f", 1000);
    send(standard, s, id -> null);
    send(fifo, f, id -> "g" + (id.hashCode() & 7));
    for (String url : List.of(standard, fifo)) {
      consumer(url, dlq, this::effect, b -> b.idAttribute(ID).namespace("orders"));
      consumer(url, dlq, this::effect, b -> b.idAttribute(ID).namespace("orders"));
    }

    Conditions.await("both queues drained", () -> ElasticMq.backlog(sqs, standard) == 0
        && ElasticMq.backlog(sqs, fifo) == 0);
    assertEquals(1600 + 800, effects.size(), "every distinct id handled");
    effects.forEach((id, n) -> assertEquals(1, n.get(), "effects of " + id));
    long handled = consumers.stream().mapToLong(c -> c.metrics().count("handled")).sum();
    long duplicates = consumers.stream().mapToLong(c -> c.metrics().count("duplicate")).sum();
    assertEquals(2400, handled);
    assertEquals(600, duplicates);
    assertEquals(0, dlqSize(dlq));
  }

  @Test
  void aFailingHandlerIsRetriedAndDeadLetteredAtTheLimit() throws Exception {
    String url = queue("flaky");
    String dlq = queue("flaky-dlq");
    Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();
    MessageHandler handler = m -> {
      String id = idOf(m);
      int attempt = attempts.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
      if (id.equals("poison") || (id.equals("flaky") && attempt <= 2)) {
        throw new IllegalStateException("attempt " + attempt + " of " + id + " fails");
      }
      return effect(m);
    };
    DedupeSqsConsumer c = consumer(url, dlq, handler, b -> b.idAttribute(ID).maxReceiveCount(3));
    send(url, List.of(new String[] {"flaky", "f"}, new String[] {"poison", "p"},
        new String[] {"fine", "x"}), id -> null);

    // The dead-letter count moves once the message is in the DLQ and deleted, so just after
    // the queue drains: wait for it too.
    Conditions.await("queue drained, poison dead-lettered", () -> ElasticMq.backlog(sqs, url) == 0
        && c.metrics().deadLetteredCount("delivery_limit") >= 1);
    assertEquals(1, effectsOf("flaky"), "ran once, after two failures");
    assertEquals(3, attempts.get("flaky").get());
    assertEquals(1, effectsOf("fine"));
    assertEquals(0, effectsOf("poison"));
    assertEquals(3, attempts.get("poison").get(), "tried up to the receive limit");
    assertEquals(1, c.metrics().deadLetteredCount("delivery_limit"));
    assertEquals(5, c.metrics().count("failed"), "2 of flaky, 3 of poison, counted");
    assertEquals(1, dlqSize(dlq));
    Message dead = sqs.receiveMessage(b -> b.queueUrl(dlq).messageAttributeNames("All"))
        .messages().getFirst();
    assertEquals("poison", dead.messageAttributes().get(ID).stringValue());
    assertEquals("delivery_limit",
        dead.messageAttributes().get(SqsBroker.DEAD_LETTER_REASON).stringValue());
  }

  @Test
  void aSlowHandlerKeepsItsMessageInvisibleAndRunsOnce() throws Exception {
    String url = queue("slow");
    String dlq = queue("slow-dlq");
    Duration lease = Duration.ofSeconds(2);
    // Outlives three leases: without extensions the message would be visible again after
    // lease + margin (4 s), and the second consumer would receive it.
    MessageHandler slow = m -> {
      long end = System.nanoTime() + lease.multipliedBy(3).toNanos();
      while (System.nanoTime() < end) {
        Thread.sleep(100);
      }
      return effect(m);
    };
    DedupeSqsConsumer first = consumer(url, dlq, slow, b -> b.idAttribute(ID).lease(lease));
    send(url, List.<String[]>of(new String[] {"slow", "s"}), id -> null);
    Conditions.await("the first consumer took it", () -> ElasticMq.backlog(sqs, url) == 1
        && sqs.getQueueAttributes(b -> b.queueUrl(url).attributeNamesWithStrings(
            "ApproximateNumberOfMessagesNotVisible")).attributesAsStrings()
            .get("ApproximateNumberOfMessagesNotVisible").equals("1"));
    DedupeSqsConsumer second = consumer(url, dlq, slow, b -> b.idAttribute(ID).lease(lease));

    Conditions.await("handled and deleted", () -> first.metrics().count("handled") == 1
        && ElasticMq.backlog(sqs, url) == 0);
    assertEquals(1, effectsOf("slow"));
    assertEquals(0, second.metrics().count("in_progress_elsewhere"),
        "the message never became visible while its handler ran");
    assertEquals(0, second.metrics().count("handled"));
  }

  @Test
  void aFifoGroupKeepsItsOrderAndStopsAtAFailure() throws Exception {
    String url = queue("ordered-fifo");
    String dlq = queue("ordered-dlq");
    AtomicInteger failuresOf3 = new AtomicInteger();
    MessageHandler handler = m -> {
      if (idOf(m).equals("a3") && failuresOf3.getAndIncrement() == 0) {
        throw new IllegalStateException("a3 fails once");
      }
      return effect(m);
    };
    List<String[]> messages = new ArrayList<>();
    for (int i = 1; i <= 8; i++) {
      messages.add(new String[] {"a" + i, "body a" + i});
      messages.add(new String[] {"b" + i, "body b" + i});
    }
    send(url, messages, id -> id.substring(0, 1));
    DedupeSqsConsumer c = consumer(url, dlq, handler, b -> b.idAttribute(ID));

    Conditions.await("queue drained", () -> ElasticMq.backlog(sqs, url) == 0);
    List<String> a = order.stream().filter(id -> id.startsWith("a")).toList();
    List<String> b = order.stream().filter(id -> id.startsWith("b")).toList();
    assertEquals(List.of("a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"), a);
    assertEquals(List.of("b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8"), b);
    assertEquals(1, c.metrics().count("failed"));
    effects.forEach((id, n) -> assertEquals(1, n.get(), "effects of " + id));
  }

  @Test
  void aMessageWithoutAnIdIsDeadLetteredOrDigestedByPolicy() throws Exception {
    String strict = queue("strict");
    String digest = queue("digest");
    String dlq = queue("noid-dlq");
    DedupeSqsConsumer refusing = consumer(strict, dlq, this::effect,
        b -> b.idAttribute(ID).missingIdPolicy(MissingIdPolicy.DEAD_LETTER));
    DedupeSqsConsumer digesting = consumer(digest, dlq, this::effect,
        b -> b.idAttribute(ID).missingIdPolicy(MissingIdPolicy.BODY_DIGEST));
    send(strict, List.<String[]>of(new String[] {null, "no id here"}), id -> null);
    send(digest, List.<String[]>of(new String[] {null, "same body"},
        new String[] {null, "same body"}), id -> null);

    Conditions.await("both drained, the id-less one dead-lettered",
        () -> ElasticMq.backlog(sqs, strict) == 0 && ElasticMq.backlog(sqs, digest) == 0
            && refusing.metrics().deadLetteredCount("missing_id") >= 1);
    assertEquals(0, effectsOf("body:no id here"));
    assertEquals(1, refusing.metrics().deadLetteredCount("missing_id"));
    assertEquals(1, dlqSize(dlq));
    assertEquals(1, effectsOf("body:same body"), "same body, same digest id: once");
    assertEquals(1, digesting.metrics().count("handled"));
    assertEquals(1, digesting.metrics().count("duplicate"));
  }

  @Test
  void anIdReusedForAnotherBodyIsAConflictAndDeadLettered() throws Exception {
    String url = queue("reuse");
    String dlq = queue("reuse-dlq");
    DedupeSqsConsumer c = consumer(url, dlq, this::effect, b -> b.idAttribute(ID));
    send(url, List.<String[]>of(new String[] {"dup", "first body"}), id -> null);
    Conditions.await("first handled", () -> c.metrics().count("handled") == 1);
    send(url, List.<String[]>of(new String[] {"dup", "another body"}), id -> null);

    Conditions.await("conflict dead-lettered", () -> c.metrics().deadLetteredCount("conflict") == 1
        && ElasticMq.backlog(sqs, url) == 0);
    assertEquals(1, effectsOf("dup"));
    assertEquals(1, c.metrics().count("conflict"));
    assertEquals(1, dlqSize(dlq));
  }

  @Test
  void onOutcomeTellsEachOutcomeWithADuplicatesStoredResult() throws Exception {
    String url = queue("told");
    String dlq = queue("told-dlq");
    List<EachOutcome<Message>> told = new CopyOnWriteArrayList<>();
    // A listener that throws is logged: the messages were disposed of before it was told.
    consumer(url, dlq, this::effect, b -> b.idAttribute(ID).onOutcome(o -> {
      told.add(o);
      throw new IllegalStateException("a listener's bug");
    }));
    send(url, List.of(new String[] {"told", "body"}, new String[] {"told", "body"}), id -> null);

    Conditions.await("both messages told and deleted", () -> told.size() == 2
        && ElasticMq.backlog(sqs, url) == 0);
    assertEquals(1, effectsOf("told"));
    var first = assertInstanceOf(EachOutcome.Executed.class, told.get(0));
    var second = assertInstanceOf(EachOutcome.AlreadyDone.class, told.get(1));
    assertEquals("done told", new String(first.result(), StandardCharsets.UTF_8));
    assertEquals("done told", new String(second.result(), StandardCharsets.UTF_8));
  }

  @Test
  void anExpiredReceiptHandleIsHandledNotFatal() throws Exception {
    String url = queue("stale");
    String dlq = queue("stale-dlq");
    List<String> stolen = Collections.synchronizedList(new ArrayList<>());
    MessageHandler handler = m -> {
      if (idOf(m).equals("late") && stolen.isEmpty()) {
        // While the handler runs, its message becomes visible and is received elsewhere:
        // this consumer's receipt handle is now stale.
        sqs.changeMessageVisibility(b -> b.queueUrl(url).receiptHandle(m.receiptHandle())
            .visibilityTimeout(0));
        Conditions.await("received elsewhere", () -> {
          List<Message> got = sqs.receiveMessage(b -> b.queueUrl(url).visibilityTimeout(1)
              .messageAttributeNames("All")).messages();
          got.forEach(g -> stolen.add(idOf(g)));
          return stolen.contains("late");
        });
      }
      return effect(m);
    };
    DedupeSqsConsumer c = consumer(url, dlq, handler, b -> b.idAttribute(ID));
    send(url, List.<String[]>of(new String[] {"late", "l"}), id -> null);
    Conditions.await("late handled", () -> c.metrics().count("handled") == 1);
    send(url, List.<String[]>of(new String[] {"after", "a"}), id -> null);

    // The stolen copy comes back after its 1 s and is deleted as a duplicate; the consumer
    // goes on with the next message.
    Conditions.await("both done and the queue drained", () -> c.metrics().count("handled") == 2
        && ElasticMq.backlog(sqs, url) == 0);
    assertEquals(1, effectsOf("late"));
    assertEquals(1, effectsOf("after"));
    assertTrue(c.metrics().count("duplicate") >= 1, "the redelivered copy was a duplicate");
    assertTrue(c.metrics().registry().find("dedupe.sqs.broker_failures")
        .tag("operation", "delete").tag("code", "ReceiptHandleIsInvalid").counter().count() >= 1,
        "the stale delete was counted, not hidden");
  }

  @ParameterizedTest
  @EnumSource(InProgressPolicy.class)
  void anIdHeldElsewhereRunsOnceItsLeaseEnds(InProgressPolicy policy) throws Exception {
    String url = queue("held-" + policy.name().toLowerCase().replace('_', '-'));
    String dlq = queue("held-dlq");
    String ns = "held-" + policy.name().toLowerCase().replace('_', '-');
    DedupeClient holder = DedupeClient.builder().target(node.address()).build();
    clients.add(holder);
    // Another consumer's lease on the id, for the same body, never committed (it died).
    Decision held = holder.checkAndInsert(ns, "held", InsertOptions.none()
        .withLease(Duration.ofSeconds(2))
        .withFingerprint(BodyDigest.fingerprint("h".getBytes(StandardCharsets.UTF_8))));
    assertTrue(held.isNew());
    DedupeSqsConsumer c = consumer(url, dlq, this::effect,
        b -> b.idAttribute(ID).namespace(ns).inProgressPolicy(policy));
    send(url, List.<String[]>of(new String[] {"held", "h"}), id -> null);

    Conditions.await("handled after the lease ran out", () -> c.metrics().count("handled") == 1
        && ElasticMq.backlog(sqs, url) == 0);
    assertEquals(1, effectsOf("held"));
    assertTrue(c.metrics().count("in_progress_elsewhere") >= 1);
  }
}
