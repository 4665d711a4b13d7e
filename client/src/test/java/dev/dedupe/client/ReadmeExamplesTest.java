package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's "Java client" examples, copied verbatim into methods (keep them in step), so
 * that they compile against the API as written, and run. RabbitMQ's types are stood in for by
 * minimal look-alikes of {@code com.rabbitmq.client}'s signatures.
 */
class ReadmeExamplesTest {

  // --- Stand-ins for com.rabbitmq.client (same method shapes) ---------------------------
  interface DeliverCallback {
    void handle(String consumerTag, Delivery delivery) throws IOException;
  }

  interface CancelCallback {
    void handle(String consumerTag) throws IOException;
  }

  record Envelope(long getDeliveryTag) {}

  record BasicProperties(String getMessageId) {}

  record Delivery(Envelope getEnvelope, BasicProperties getProperties, byte[] getBody) {}

  /** Records what the consumer did with each delivery tag. */
  static final class Channel {
    final List<String> log = new ArrayList<>();

    void basicAck(long tag, boolean multiple) throws IOException {
      log.add("ack " + tag);
    }

    void basicNack(long tag, boolean multiple, boolean requeue) throws IOException {
      log.add("nack " + tag);
    }

    void basicReject(long tag, boolean requeue) throws IOException {
      log.add("reject " + tag);
    }

    DeliverCallback consumer;

    String basicConsume(String queue, boolean autoAck, DeliverCallback deliver,
        CancelCallback cancel) {
      consumer = deliver;
      return "consumer-1";
    }
  }

  // --- Fixtures the examples use -----------------------------------------------------------
  private final AtomicInteger fulfilled = new AtomicInteger();

  private byte[] fulfil(byte[] body) {
    fulfilled.incrementAndGet();
    return ("fulfilled " + new String(body, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
  }

  static final class Payments {
    final AtomicInteger created = new AtomicInteger();

    byte[] create(byte[] body) {
      return ("payment #" + created.incrementAndGet()).getBytes(StandardCharsets.UTF_8);
    }
  }

  private static byte[] sha256(byte[] body) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(body);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void respond(HttpExchange exchange, int status, byte[] body) throws IOException {
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  private static DedupeClient readmeClient(String address) {
    DedupeClient dedupe = DedupeClient.builder()
        .targets(List.of(address))                // seeds; the map names the rest
        .requestDeadline(Duration.ofSeconds(2))   // per attempt; retried with backoff
        .maxInFlightBatches(2)                    // batching: more calls wait for one of these
        .defaultLease(Duration.ofMinutes(2))      // how long once() owns an id
        .build();
    return dedupe;
  }

  @Test
  void rabbitMqConsumer(@TempDir Path dir) throws IOException {
    try (TestNode node = TestNode.start(dir); DedupeClient dedupe = readmeClient(node.address())) {
      Channel channel = new Channel();

      // ---- README: RabbitMQ consumer ----
      DeliverCallback onMessage = (consumerTag, delivery) -> {
        long tag = delivery.getEnvelope().getDeliveryTag();
        String id = delivery.getProperties().getMessageId();
        try {
          switch (dedupe.once("orders.fulfil", id, () -> fulfil(delivery.getBody()))) {
            case OnceOutcome.Executed done -> channel.basicAck(tag, false);
            case OnceOutcome.AlreadyDone before -> channel.basicAck(tag, false);   // a redelivery
            case OnceOutcome.InProgressElsewhere busy -> channel.basicNack(tag, false, true);
            case OnceOutcome.Conflict reused -> channel.basicReject(tag, false);  // dead-letter it
          }
        } catch (OnceActionException | DedupeException e) {
          channel.basicNack(tag, false, true);    // the work failed or dedupe is unreachable: retry
        }
      };
      channel.basicConsume("orders", false, onMessage, consumerTag -> {});
      // ---- end ----

      byte[] body = "order-7".getBytes(StandardCharsets.UTF_8);
      channel.consumer.handle("c", new Delivery(new Envelope(1), new BasicProperties("m-7"), body));
      channel.consumer.handle("c", new Delivery(new Envelope(2), new BasicProperties("m-7"), body));
      assertEquals(List.of("ack 1", "ack 2"), channel.log);
      assertEquals(1, fulfilled.get(), "the redelivery must not fulfil the order again");
    }
  }

  @Test
  void httpHandlerWithIdempotencyKeys(@TempDir Path dir) throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    try (TestNode node = TestNode.start(dir); DedupeClient dedupe = readmeClient(node.address())) {
      Payments payments = new Payments();

      // ---- README: HTTP handler ----
      HttpHandler createPayment = exchange -> {
        String key = exchange.getRequestHeaders().getFirst("Idempotency-Key");
        byte[] body = exchange.getRequestBody().readAllBytes();
        InsertOptions sameBody = InsertOptions.none().withFingerprint(sha256(body));
        switch (dedupe.once("payments.create", key, sameBody, () -> payments.create(body))) {
          case OnceOutcome.Executed done -> respond(exchange, 201, done.result());
          case OnceOutcome.AlreadyDone before -> respond(exchange, 201, before.result());
          case OnceOutcome.InProgressElsewhere busy -> respond(exchange, 409, "in progress".getBytes());
          case OnceOutcome.Conflict reused -> respond(exchange, 422, "key reused".getBytes());
        }
      };
      // ---- end ----

      server.createContext("/payments", createPayment);
      server.start();
      HttpClient http = HttpClient.newHttpClient();
      URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/payments");
      HttpResponse<String> first = post(http, uri, "k-1", "{\"amount\":42}");
      HttpResponse<String> retry = post(http, uri, "k-1", "{\"amount\":42}");
      HttpResponse<String> reused = post(http, uri, "k-1", "{\"amount\":99}");
      assertEquals(201, first.statusCode());
      assertEquals("payment #1", first.body());
      assertEquals(201, retry.statusCode());
      assertEquals("payment #1", retry.body(), "the retry gets the first response back");
      assertEquals(422, reused.statusCode());
      assertEquals(1, payments.created.get());
    } finally {
      server.stop(0);
    }
  }

  private static HttpResponse<String> post(HttpClient http, URI uri, String key, String body)
      throws Exception {
    return http.send(HttpRequest.newBuilder(uri)
            .header("Idempotency-Key", key)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
