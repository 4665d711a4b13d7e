package dev.dedupe.rabbitmq;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.dedupe.server.testing.Conditions;
import dev.dedupe.server.testing.LoopbackNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 13's scenario for RabbitMQ, with real processes: two consumer JVMs
 * ({@link ConsumerProcessMain}, prefetch 20, lease 2 s) on one queue, a real broker and a real
 * dedupe node in this JVM. 2,000 messages, 20% of them a producer's retry of an earlier id; one
 * id in twenty throws on its first attempt and succeeds when redelivered; one slow handler
 * outlives its first lease while the other process is refused its retried copy; one process is
 * SIGKILLed inside the victim id's handler, after the effect and before the commit, and the
 * broker hands its unacknowledged deliveries to the other.
 *
 * <p>The verdict comes from the handlers' side-effect ledger (one file per process): every
 * distinct id's effect exactly once, except the victim's, exactly twice, once in the killed
 * process (with no commit after it) and once in the survivor; the queue drained and nothing
 * dead-lettered.
 *
 * <p>The phases are ordered by what the processes report, never by sleeps: the slow handler
 * waits for the test, and the second half of the messages (with the victim) is published only
 * once the slow one is done, so that the victim's block never stalls the slow phase.
 */
class ConsumerKillTest {

  /** Exit status of a process ended by SIGKILL (128 + 9), as the JDK reports it on Linux. */
  static final int SIGKILL_EXIT = 137;
  static final int TOTAL = 2_000;
  static final int REPEATS = 400; // 20%
  /** Early in the first half: its process's prefetch is full of the backlog while it runs. */
  static final String SLOW = "m-0120";
  /** In the second half, published once the slow handler is done. */
  static final String VICTIM = "m-1060";
  static final long LEASE_MS = ConsumerProcessMain.LEASE.toMillis();

  /** Kept when the test fails: the ledgers and the children's logs. */
  @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir;

  @ParameterizedTest(name = "{0} queue")
  @ValueSource(strings = {"quorum", "classic"})
  void aKillBetweenEffectAndCommitIsTheOnlyRepeat(String type) throws Exception {
    ConnectionFactory factory = RabbitBroker.require();
    long started = System.nanoTime();
    String queue = "dedupe-kill-" + type + "-" + UUID.randomUUID();
    List<String> ids = messages();
    List<String> distinct = ids.stream().distinct().toList();
    List<Process> children = new ArrayList<>();
    try (Connection admin = factory.newConnection("kill-test-admin");
        LoopbackNode node = LoopbackNode.start(dir.resolve("node"))) {
      Channel ch = admin.createChannel();
      RabbitBroker.declareWithDeadLetters(ch, queue, type);
      try {
        int published = 0;
        // The first half before the consumers start: a backlog, so the slow handler's process
        // has its prefetch full while the slow handler runs, and the retry goes to the other.
        published += publish(ch, queue, ids.subList(0, TOTAL / 2));
        for (String name : List.of("p1", "p2")) {
          children.add(startConsumer(factory, queue, node.address(), name));
        }
        awaitLedger("both consumers ready",
            l -> l.count("ready", null, "p1") == 1 && l.count("ready", null, "p2") == 1);

        // The slow handler outlives its first lease: the test holds it until the other process
        // has been refused the producer's retry of its id after that lease's end.
        Line slowStart = awaitLedger("the slow handler started",
            l -> l.first("slow-start", SLOW) != null).first("slow-start", SLOW);
        String slowProcess = slowStart.process();
        String other = slowProcess.equals("p1") ? "p2" : "p1";
        published += publish(ch, queue, List.of(SLOW));
        long firstLeaseOver = slowStart.millis() + LEASE_MS;
        awaitLedger("the retry of " + SLOW + " refused by " + other + " after the first lease",
            l -> l.lines().anyMatch(x -> x.is("InProgressElsewhere", SLOW, other)
                && x.millis() > firstLeaseOver + 100));
        Files.createFile(dir.resolve("release-slow"));
        awaitLedger("the slow handler's effect", l -> l.count("effect", SLOW, null) >= 1);

        // The second half, with the victim: its process blocks after the victim's effect.
        published += publish(ch, queue, ids.subList(TOTAL / 2, TOTAL));
        Line blocked = awaitLedger("a process blocked in the victim's handler, after its effect",
            l -> l.first("blocked", VICTIM) != null).first("blocked", VICTIM);
        String victimProcess = blocked.process();
        String survivor = victimProcess.equals("p1") ? "p2" : "p1";
        Process victim = children.get(victimProcess.equals("p1") ? 0 : 1);
        victim.destroyForcibly(); // SIGKILL on Linux
        assertTrue(victim.waitFor(120, TimeUnit.SECONDS), "the victim did not die");
        assertEquals(SIGKILL_EXIT, victim.exitValue());

        // The broker redelivers the victim's unacknowledged deliveries to the survivor.
        int expectedAcks = published;
        awaitLedger("every message acknowledged and the queue empty",
            l -> l.acked() >= expectedAcks && depth(ch, queue) == 0);
        Files.createFile(dir.resolve("stop-" + survivor));
        Process last = children.get(survivor.equals("p1") ? 0 : 1);
        assertTrue(last.waitFor(120, TimeUnit.SECONDS), "the survivor did not stop");
        assertEquals(0, last.exitValue(), "the survivor's exit status; see child-*.log");

        Ledgers l = Ledgers.read(dir);
        assertEquals(0, depth(ch, queue), "the queue drained (nothing held back at the stop)");
        assertEquals(0, depth(ch, queue + ".dlq"), "nothing dead-lettered");
        assertEquals(published, l.acked(), "each message acknowledged once");

        // Every distinct id's effect once, except the victim's: twice, the kill having fallen
        // between its effect and its commit.
        Map<String, List<String>> effects = l.effects();
        assertEquals(Set.copyOf(distinct), effects.keySet(), "ids whose effect happened");
        Map<String, List<String>> notOnce = new TreeMap<>();
        effects.forEach((id, where) -> {
          if (where.size() != 1) {
            notOnce.put(id, where);
          }
        });
        assertEquals(Map.of(VICTIM, List.of(victimProcess, survivor)), notOnce,
            "ids whose effect did not happen exactly once, with the processes that ran it (the"
                + " slow one was " + SLOW + " in " + slowProcess + "; ledgers in " + dir + ")");
        assertEquals(0, l.count("Executed", VICTIM, victimProcess),
            "the killed process never committed the victim");
        assertEquals(1, l.count("Executed", VICTIM, survivor),
            "the survivor ran the victim again and committed it");

        // Fail-first ids threw once, before their effect, and then ran once.
        List<String> failing = distinct.stream().filter(ConsumerProcessMain::failsFirst).toList();
        for (String id : failing) {
          assertEquals(1, l.count("fail", id, null), "first attempts of " + id + " that threw");
        }
        assertTrue(l.count("Failed", null, null) >= 1, "a failure went back to the broker");

        // The slow handler outlived its first lease and ran once.
        Line slowEnd = l.first("slow-end", SLOW);
        assertTrue(slowEnd.millis() - slowStart.millis() > LEASE_MS,
            "the slow handler ran " + (slowEnd.millis() - slowStart.millis()) + " ms");
        assertEquals(List.of(slowProcess), effects.get(SLOW));

        Line stopped = l.first("stopped", null);
        assertTrue(stopped.rest().endsWith("dead_lettered=0"), stopped.toString());
        System.out.printf("%s queue: %d messages (%d distinct ids, %d fail first), slow handler"
                + " %d ms in %s, victim %s killed in %s, survivor %s, %.1f s in all%n",
            type, published, distinct.size(), failing.size(),
            slowEnd.millis() - slowStart.millis(), slowProcess, VICTIM, victimProcess,
            stopped.rest(), (System.nanoTime() - started) / 1e9);
      } finally {
        children.forEach(Process::destroyForcibly);
        for (Process p : children) {
          p.waitFor(30, TimeUnit.SECONDS);
        }
        RabbitBroker.delete(ch, queue);
      }
    }
  }

  /**
   * {@value #TOTAL} message ids: {@value #REPEATS} of them (at random places, never the first)
   * repeat an earlier id, as a producer's retry would; the others are new. The slow and the
   * victim ids are never repeated here: the test publishes the slow one's retry itself.
   */
  private static List<String> messages() {
    Random random = new Random(13);
    Set<Integer> repeatAt = new HashSet<>();
    while (repeatAt.size() < REPEATS) {
      repeatAt.add(1 + random.nextInt(TOTAL - 1));
    }
    List<String> ids = new ArrayList<>();
    List<String> originals = new ArrayList<>();
    for (int p = 0; p < TOTAL; p++) {
      if (repeatAt.contains(p)) {
        String id;
        do {
          id = originals.get(random.nextInt(originals.size()));
        } while (id.equals(SLOW) || id.equals(VICTIM));
        ids.add(id);
      } else {
        String id = "m-%04d".formatted(originals.size());
        originals.add(id);
        ids.add(id);
      }
    }
    int slowAt = ids.indexOf(SLOW);
    int victimAt = ids.indexOf(VICTIM);
    if (slowAt < 0 || slowAt >= TOTAL / 4 || victimAt < TOTAL / 2
        || ConsumerProcessMain.failsFirst(SLOW) || ConsumerProcessMain.failsFirst(VICTIM)) {
      throw new IllegalStateException("the slow id must be early in the first half and the"
          + " victim in the second half: " + slowAt + ", " + victimAt);
    }
    return ids;
  }

  /** Publishes with publisher confirms, waiting for every confirm; returns how many. */
  private static int publish(Channel ch, String queue, List<String> ids) throws Exception {
    ch.confirmSelect();
    for (String id : ids) {
      ch.basicPublish("", queue, new AMQP.BasicProperties.Builder().deliveryMode(2)
          .messageId(id).build(), ("charge " + id).getBytes(UTF_8));
    }
    ch.waitForConfirmsOrDie(60_000);
    return ids.size();
  }

  private static long depth(Channel ch, String queue) {
    try {
      return ch.queueDeclarePassive(queue).getMessageCount();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Process startConsumer(ConnectionFactory factory, String queue, String dedupe,
      String name) throws IOException {
    String classPath = System.getProperty("surefire.test.class.path",
        System.getProperty("java.class.path"));
    String java = ProcessHandle.current().info().command()
        .orElseThrow(() -> new IllegalStateException("cannot tell which java runs this test"));
    Process p = new ProcessBuilder(java, "-Xmx128m", "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1", "-cp", classPath, ConsumerProcessMain.class.getName(),
        factory.getHost(), Integer.toString(factory.getPort()), queue, dedupe, dir.toString(),
        name, VICTIM, SLOW)
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("child-" + name + ".log").toFile())
        .start();
    // Ends the child if this JVM exits first (a timeout, say).
    Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
    return p;
  }

  /** Waits until the ledger satisfies {@code condition}; returns the ledger that did. */
  private Ledgers awaitLedger(String what, Predicate<Ledgers> condition)
      throws InterruptedException {
    Ledgers[] seen = new Ledgers[1];
    Conditions.await(Conditions.LONG, what, () -> condition.test(seen[0] = Ledgers.read(dir)),
        () -> "ledger: " + seen[0].summary() + "; see " + dir + "/child-*.log");
    return seen[0];
  }

  /** One ledger line: {@code <what> <id> <process> <epoch ms> [rest]}. */
  record Line(String what, String id, String process, long millis, String rest) {
    static Line parse(String s) {
      String[] f = s.split(" ", 5);
      return new Line(f[0], f[1], f[2], Long.parseLong(f[3]), f.length > 4 ? f[4] : "");
    }

    /** Whether the line is {@code what} for {@code id} in {@code process}; null matches any. */
    boolean is(String what, String id, String process) {
      return this.what.equals(what) && (id == null || this.id.equals(id))
          && (process == null || this.process.equals(process));
    }
  }

  /** The processes' ledger files, merged (each file in its own order). */
  record Ledgers(List<Line> all) {
    static Ledgers read(Path dir) {
      List<Line> lines = new ArrayList<>();
      try (Stream<Path> files = Files.list(dir)) {
        for (Path f : files.filter(f -> f.getFileName().toString().startsWith("ledger-"))
            .sorted().toList()) {
          String text = Files.readString(f);
          // Only whole lines: a read may meet a line still being written.
          int end = text.lastIndexOf('\n');
          for (String s : end < 0 ? new String[0] : text.substring(0, end).split("\n")) {
            lines.add(Line.parse(s));
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return new Ledgers(lines);
    }

    Stream<Line> lines() {
      return all.stream();
    }

    Line first(String what, String id) {
      return all.stream().filter(l -> l.is(what, id, null)).findFirst().orElse(null);
    }

    long count(String what, String id, String process) {
      return all.stream().filter(l -> l.is(what, id, process)).count();
    }

    /** Outcomes after which the consumer acknowledges the delivery. */
    long acked() {
      return all.stream().filter(l -> l.what.equals("Executed") || l.what.equals("AlreadyDone")
          || l.what.equals("Unconfirmed")).count();
    }

    /** Each id's effects, by the process that had them. */
    Map<String, List<String>> effects() {
      Map<String, List<String>> out = new LinkedHashMap<>();
      all.stream().filter(l -> l.what.equals("effect"))
          .sorted((a, b) -> Long.compare(a.millis, b.millis))
          .forEach(l -> out.computeIfAbsent(l.id, k -> new ArrayList<>()).add(l.process));
      return out;
    }

    String summary() {
      Map<String, Long> byWhat = new TreeMap<>();
      all.forEach(l -> byWhat.merge(l.what + "@" + l.process, 1L, Long::sum));
      return byWhat.toString();
    }
  }
}
