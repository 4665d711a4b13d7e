package dev.dedupe.rabbitmq;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.dedupe.client.DedupeClient;
import dev.dedupe.client.EachOutcome;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * A consumer process for {@link ConsumerKillTest}: one {@link DedupeRabbitConsumer} in its own
 * JVM, whose handler writes a side-effect ledger, one file per process ({@code ledger-<name>}),
 * one {@code write} per line. Lines are {@code <what> <id> <process> <epoch ms>}:
 * <ul>
 *   <li>{@code effect}: the id's side effect happened (before its commit);</li>
 *   <li>{@code fail}: the handler threw, before any effect (ids for which {@link #failsFirst}
 *       holds, on their first attempt in any process: a file created with O_EXCL says which
 *       attempt is the first);</li>
 *   <li>{@code slow-start}, {@code slow-end}: the slow id's handler, which waits between the
 *       two until the test creates the file {@code release-slow};</li>
 *   <li>{@code blocked}: the victim id's effect is written and the handler now blocks until the
 *       process is killed (only the first attempt in any process; a later one just runs);</li>
 *   <li>every settled outcome, by its class name ({@code Executed}, {@code AlreadyDone},
 *       {@code InProgressElsewhere}, ...), from the consumer's listener;</li>
 *   <li>{@code ready} once consuming; {@code stopped} with the metrics after a clean stop, which
 *       the file {@code stop-<name>} asks for.</li>
 * </ul>
 *
 * <p>Arguments: broker host, broker port, queue, dedupe address, directory, process name,
 * victim id, slow id.
 */
public final class ConsumerProcessMain {

  static final Duration LEASE = Duration.ofSeconds(2);
  static final int PREFETCH = 20;
  /**
   * Above the default 5: a quorum queue counts every return towards it (a kill's redelivery,
   * an in-progress requeue), and a fail-first id may meet its first attempt after a few.
   */
  static final int DELIVERY_LIMIT = 10;

  private static FileOutputStream out;
  private static String name;

  /** The ids whose handler throws on their first attempt: one in twenty. */
  static boolean failsFirst(String id) {
    return id.startsWith("m-") && Integer.parseInt(id.substring(2)) % 20 == 3;
  }

  public static void main(String[] args) throws Exception {
    ConnectionFactory factory = new ConnectionFactory();
    factory.setHost(args[0]);
    factory.setPort(Integer.parseInt(args[1]));
    String queue = args[2];
    Path dir = Path.of(args[4]);
    name = args[5];
    String victim = args[6];
    String slow = args[7];
    out = new FileOutputStream(dir.resolve("ledger-" + name).toFile(), true);

    DedupeClient dedupe = DedupeClient.builder().target(args[3]).build();
    Connection rabbit = factory.newConnection(name);
    DedupeRabbitConsumer consumer = DedupeRabbitConsumer.builder()
        .connection(rabbit).queue(queue).client(dedupe)
        .prefetch(PREFETCH).lease(LEASE).deliveryLimit(DELIVERY_LIMIT)
        .onOutcome(o -> write(o.getClass().getSimpleName(), o.messageId()))
        .handler(d -> {
          String id = d.getProperties().getMessageId();
          if (failsFirst(id) && firstTime(dir.resolve("failed-" + id))) {
            write("fail", id);
            throw new IllegalStateException("the card service timed out for " + id);
          }
          if (id.equals(slow)) {
            write("slow-start", id);
            awaitFile(dir.resolve("release-slow"));
            write("slow-end", id);
          }
          write("effect", id);
          if (id.equals(victim) && firstTime(dir.resolve("victim-blocked"))) {
            write("blocked", id);
            new CountDownLatch(1).await(); // until SIGKILL
          }
          return ("charged " + id).getBytes(UTF_8);
        })
        .build()
        .start();
    write("ready", "-");

    awaitFile(dir.resolve("stop-" + name));
    consumer.close();
    write("stopped", "-", metrics(consumer));
    rabbit.close();
    dedupe.close();
    System.exit(0);
  }

  private static String metrics(DedupeRabbitConsumer c) {
    StringBuilder s = new StringBuilder();
    for (String o : new String[] {"handled", "duplicate", "in_progress_elsewhere", "failed",
        "not_run", "conflict", "invalid", "unconfirmed"}) {
      s.append(o).append('=').append(c.metrics().count(o)).append(',');
    }
    return s.append("dead_lettered=").append(c.metrics().deadLetteredCount("conflict")
        + c.metrics().deadLetteredCount("invalid") + c.metrics().deadLetteredCount("missing_id")
        + c.metrics().deadLetteredCount("delivery_limit")).toString();
  }

  /** Creates {@code marker} (O_EXCL): true for the one attempt, in any process, that made it. */
  private static boolean firstTime(Path marker) throws IOException {
    try {
      Files.createFile(marker);
      return true;
    } catch (FileAlreadyExistsException e) {
      return false;
    }
  }

  /** Waits for the test to create {@code file}; the test's own waits are bounded tighter. */
  private static void awaitFile(Path file) throws InterruptedException {
    long until = System.nanoTime() + Duration.ofMinutes(5).toNanos();
    while (!Files.exists(file)) {
      if (System.nanoTime() - until > 0) {
        throw new IllegalStateException("never saw " + file);
      }
      Thread.sleep(20);
    }
  }

  private static void write(String what, String id, String... more) {
    StringBuilder line = new StringBuilder(what).append(' ').append(id).append(' ').append(name)
        .append(' ').append(System.currentTimeMillis());
    for (String m : more) {
      line.append(' ').append(m);
    }
    byte[] bytes = line.append('\n').toString().getBytes(UTF_8);
    synchronized (ConsumerProcessMain.class) {
      try {
        out.write(bytes); // one write(2) of a short line: a SIGKILL after it keeps the line
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write the ledger", e);
      }
    }
  }
}
