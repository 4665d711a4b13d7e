package dev.dedupe.rabbitmq;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The real RabbitMQ broker the tests use: at {@code dedupe.rabbitmq.host}/{@code .port}
 * (system properties) or {@code DEDUPE_RABBITMQ_HOST}/{@code _PORT}, default 127.0.0.1:5673,
 * as started by src/test/broker/start-rabbitmq.sh. Without one the tests skip with one line,
 * except under {@code CI=true}, where a missing broker fails the build.
 */
final class RabbitBroker {

  static final String HOW_TO_RUN = "start one with"
      + " rabbitmq-adapter/src/test/broker/start-rabbitmq.sh (Debian: apt-get install"
      + " rabbitmq-server)";

  private RabbitBroker() {}

  static String host() {
    return setting("dedupe.rabbitmq.host", "DEDUPE_RABBITMQ_HOST", "127.0.0.1");
  }

  static int port() {
    return Integer.parseInt(setting("dedupe.rabbitmq.port", "DEDUPE_RABBITMQ_PORT", "5673"));
  }

  /** Why there is no broker, or null when one answered: probed once per JVM. */
  private static String missing;
  private static boolean probed;

  /**
   * A connection factory for the broker. When none answers, aborts the calling test with one
   * line saying how to start one (surefire counts it skipped), or fails it under CI=true.
   * Call it from each test (or a @BeforeEach): an abort in @BeforeAll is not reported.
   */
  static synchronized ConnectionFactory require() {
    ConnectionFactory factory = new ConnectionFactory();
    factory.setHost(host());
    factory.setPort(port());
    factory.setConnectionTimeout(3_000);
    if (!probed) {
      probed = true;
      try (Connection probe = factory.newConnection("dedupe-test-probe")) {
        missing = null;
      } catch (IOException | TimeoutException e) {
        missing = "no RabbitMQ broker at " + host() + ":" + port() + " (" + e + "): the"
            + " RabbitMQ adapter's tests are skipped; " + HOW_TO_RUN;
      }
    }
    if (missing != null) {
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        Assertions.fail("CI=true and " + missing);
      }
      Assumptions.abort(missing);
    }
    return factory;
  }

  /** Declares a fresh queue of {@code type} (classic or quorum) with a dead-letter queue. */
  static void declareWithDeadLetters(Channel ch, String queue, String type) throws IOException {
    String dlq = queue + ".dlq";
    ch.queueDeclare(dlq, true, false, false, Map.of("x-queue-type", type));
    Map<String, Object> args = new HashMap<>();
    args.put("x-queue-type", type);
    args.put("x-dead-letter-exchange", "");
    args.put("x-dead-letter-routing-key", dlq);
    ch.queueDeclare(queue, true, false, false, args);
  }

  /** Deletes the queue and its dead-letter queue. */
  static void delete(Channel ch, String queue) throws IOException {
    ch.queueDelete(queue);
    ch.queueDelete(queue + ".dlq");
  }

  private static String setting(String property, String env, String dflt) {
    String v = System.getProperty(property);
    if (v == null || v.isBlank()) {
      v = System.getenv(env);
    }
    return v == null || v.isBlank() ? dflt : v;
  }
}
