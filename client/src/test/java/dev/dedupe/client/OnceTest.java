package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** once(), leases, and what happens when a holder dies between NEW and its side effect. */
class OnceTest {

  private static final String NS = "once";

  @TempDir Path dir;
  private TestNode node;
  private CallRecorder recorder;
  private DedupeClient client;

  @BeforeEach
  void start() {
    node = TestNode.start(dir);
    recorder = new CallRecorder();
    client = DedupeClient.builder()
        .target(node.address())
        .linger(Duration.ofMillis(1))
        .interceptors(recorder)
        .build();
  }

  @AfterEach
  void stop() {
    client.close();
    node.close();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void runsTheActionOnceAndHandsLaterCallersTheStoredResult() {
    AtomicInteger runs = new AtomicInteger();
    OnceOutcome first = client.once(NS, "order-1", () -> {
      runs.incrementAndGet();
      return utf8("charged 42");
    });
    OnceOutcome.Executed executed = assertInstanceOf(OnceOutcome.Executed.class, first);
    assertArrayEquals(utf8("charged 42"), executed.result());
    assertTrue(executed.decision().isNew());

    OnceOutcome second = client.once(NS, "order-1", () -> {
      runs.incrementAndGet();
      return utf8("charged twice!");
    });
    OnceOutcome.AlreadyDone done = assertInstanceOf(OnceOutcome.AlreadyDone.class, second);
    assertArrayEquals(utf8("charged 42"), done.result());
    assertEquals(executed.decision().firstSeen(), done.firstSeen());
    assertEquals(1, runs.get());
  }

  @Test
  void aFailedActionReleasesTheLeaseSoALaterCallRunsItAgain() {
    AtomicInteger runs = new AtomicInteger();
    OnceActionException e = assertThrows(OnceActionException.class,
        () -> client.once(NS, "order-2", () -> {
          runs.incrementAndGet();
          throw new IOException("gateway down");
        }));
    assertTrue(e.released());
    assertInstanceOf(IOException.class, e.getCause());
    assertEquals(1, recorder.calls("Release"));

    OnceOutcome retry = client.once(NS, "order-2", () -> {
      runs.incrementAndGet();
      return utf8("ok");
    });
    assertInstanceOf(OnceOutcome.Executed.class, retry);
    assertEquals(2, runs.get());
  }

  @Test
  void whileAnotherHolderHasTheLeaseTheActionDoesNotRun() {
    Decision holder = client.checkAndInsert(NS, "order-3",
        InsertOptions.none().withLease(Duration.ofMinutes(5)));
    assertTrue(holder.isNew());
    assertNotNull(holder.leaseExpiresAt());

    AtomicInteger runs = new AtomicInteger();
    OnceOutcome busy = client.once(NS, "order-3", () -> {
      runs.incrementAndGet();
      return null;
    });
    OnceOutcome.InProgressElsewhere elsewhere =
        assertInstanceOf(OnceOutcome.InProgressElsewhere.class, busy);
    assertEquals(holder.leaseExpiresAt(), elsewhere.leaseExpiresAt());
    assertEquals(0, runs.get());

    client.release(NS, "order-3", holder.attemptToken());
    assertInstanceOf(OnceOutcome.Executed.class, client.once(NS, "order-3", () -> {
      runs.incrementAndGet();
      return null;
    }));
    assertEquals(1, runs.get());
  }

  @Test
  void aHolderThatDiesAfterNewLosesItsLeaseAndTheNextCallerDoesTheWork() throws Exception {
    // Holder A: NEW with a short lease, then it "dies" (never commits).
    Decision a = client.checkAndInsert(NS, "order-4",
        InsertOptions.none().withLease(Duration.ofSeconds(1)));
    assertTrue(a.isNew());
    assertEquals(Verdict.IN_PROGRESS, client.check(NS, "order-4").verdict());

    // Wait (bounded) until the lease has run out, as the server sees it.
    TestNode.awaitCondition(Duration.ofMinutes(1), "the 1 s lease running out",
        () -> client.check(NS, "order-4").verdict() != Verdict.IN_PROGRESS);

    // The redelivery gets NEW and completes the work.
    OnceOutcome b = client.once(NS, "order-4", () -> utf8("done by B"));
    OnceOutcome.Executed executed = assertInstanceOf(OnceOutcome.Executed.class, b);
    assertNotEquals(a.attemptToken(), executed.decision().attemptToken());

    // A comes back and tries to commit: too late.
    LeaseLostException lost = assertThrows(LeaseLostException.class,
        () -> client.commit(NS, "order-4", a.attemptToken(), utf8("done by A")));
    assertEquals(Status.Code.FAILED_PRECONDITION, lost.code());
    assertEquals(a.attemptToken(), lost.attemptToken());
    assertThrows(LeaseLostException.class, () -> client.release(NS, "order-4", a.attemptToken()));
    assertThrows(LeaseLostException.class,
        () -> client.extendLease(NS, "order-4", a.attemptToken(), Duration.ofSeconds(5)));

    // B's result is the one that stays.
    OnceOutcome c = client.once(NS, "order-4", () -> utf8("done by C"));
    assertArrayEquals(utf8("done by B"), assertInstanceOf(OnceOutcome.AlreadyDone.class, c).result());
  }

  @Test
  void aLongActionKeepsItsLeaseAlive() {
    // Renewed every half lease: a renewal has 2 s to get through, even on a busy machine.
    Duration lease = Duration.ofSeconds(4);
    OnceOutcome outcome = client.once(NS, "order-5", InsertOptions.none().withLease(lease), () -> {
      // Outlive the lease: the third renewal is sent at least 6 s after the lease was taken.
      TestNode.awaitCondition(Duration.ofMinutes(1), "three lease renewals",
          () -> recorder.calls("ExtendLease") >= 3);
      // Without renewals the 4 s lease would be gone by now, and another caller would run this.
      assertEquals(Verdict.IN_PROGRESS, client.check(NS, "order-5").verdict());
      assertInstanceOf(OnceOutcome.InProgressElsewhere.class,
          client.once(NS, "order-5", () -> utf8("second runner")));
      return utf8("first runner");
    });
    assertInstanceOf(OnceOutcome.Executed.class, outcome);
    int renewals = recorder.calls("ExtendLease");
    assertArrayEquals(utf8("first runner"),
        assertInstanceOf(OnceOutcome.AlreadyDone.class, client.once(NS, "order-5", () -> null)).result());
    // Renewal stopped with the action.
    assertEquals(renewals, recorder.calls("ExtendLease"));
  }

  @Test
  void extendLeaseMovesTheEndOfTheLease() {
    Decision d = client.checkAndInsert(NS, "order-6",
        InsertOptions.none().withLease(Duration.ofSeconds(10)));
    Instant end = client.extendLease(NS, "order-6", d.attemptToken(), Duration.ofMinutes(10));
    assertTrue(end.isAfter(d.leaseExpiresAt()), end + " vs " + d.leaseExpiresAt());
    assertEquals(end, client.check(NS, "order-6").leaseExpiresAt());
    client.commit(NS, "order-6", d.attemptToken(), utf8("r"));
    // A retried Commit by the holder is fine (the server keeps the first result).
    client.commit(NS, "order-6", d.attemptToken(), utf8("other"));
    Decision dup = client.checkAndInsert(NS, "order-6");
    assertEquals(Verdict.DUPLICATE, dup.verdict());
    assertArrayEquals(utf8("r"), dup.result());
  }
}
