package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * onceEach(), the batch form of once() that the queue adapters are built on: one call decides
 * a batch, an id twice in a batch runs once, failures release their leases, ordered groups stop
 * at their first failure, a long action's lease is extended and its listener told.
 */
class OnceEachTest {

  private static final String NS = "each";

  /** A delivery as a queue adapter sees one: an id (may be missing), a body, a group. */
  record Msg(String id, String body, String group) {
    Msg(String id) {
      this(id, "body-" + id, "");
    }
  }

  @TempDir Path dir;
  private TestNode node;
  private CallRecorder recorder;
  private DedupeClient client;
  private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();

  @BeforeEach
  void start() {
    node = TestNode.start(dir);
    recorder = new CallRecorder();
    client = DedupeClient.builder().target(node.address()).interceptors(recorder).build();
  }

  @AfterEach
  void stop() {
    client.close();
    node.close();
  }

  private byte[] effect(Msg m) {
    runs.computeIfAbsent(m.id(), k -> new AtomicInteger()).incrementAndGet();
    return ("done " + m.id()).getBytes(StandardCharsets.UTF_8);
  }

  private int runsOf(String id) {
    AtomicInteger n = runs.get(id);
    return n == null ? 0 : n.get();
  }

  @Test
  void oneCallDecidesTheBatchAndAnIdTwiceInItRunsOnce() {
    client.once(NS, "c", () -> "earlier".getBytes(StandardCharsets.UTF_8));
    int callsBefore = recorder.calls("CheckAndInsert");
    List<Msg> batch = List.of(new Msg("a"), new Msg("b"), new Msg("a"), new Msg("c"));

    List<EachOutcome<Msg>> out = client.onceEach(NS, batch, EachSpec.ids(Msg::id), this::effect);

    assertEquals(callsBefore + 1, recorder.calls("CheckAndInsert"), "one call for the batch");
    assertEquals(3, recorder.inserts().getLast().getMessageIdsCount(), "distinct ids only");
    assertInstanceOf(EachOutcome.Executed.class, out.get(0));
    assertInstanceOf(EachOutcome.Executed.class, out.get(1));
    EachOutcome.AlreadyDone<Msg> repeat = assertInstanceOf(EachOutcome.AlreadyDone.class, out.get(2));
    assertArrayEquals("done a".getBytes(StandardCharsets.UTF_8), repeat.result());
    EachOutcome.AlreadyDone<Msg> earlier = assertInstanceOf(EachOutcome.AlreadyDone.class, out.get(3));
    assertArrayEquals("earlier".getBytes(StandardCharsets.UTF_8), earlier.result());
    assertEquals(1, runsOf("a"));
    assertEquals(1, runsOf("b"));
    assertEquals(0, runsOf("c"));
    assertEquals(batch, out.stream().map(EachOutcome::message).toList(), "outcomes in order");

    // Redelivered, the whole batch is done already and nothing runs again.
    List<EachOutcome<Msg>> again = client.onceEach(NS, batch, EachSpec.ids(Msg::id), this::effect);
    assertTrue(again.stream().allMatch(o -> o instanceof EachOutcome.AlreadyDone<Msg>), again.toString());
    assertEquals(1, runsOf("a"));
  }

  @Test
  void everyExecutedMessageIsCommittedWhenTheBatchReturns() {
    // The adapters ack as soon as onceEach returns: an Executed message's commit must be
    // done by then, even though commits travel while the next actions run.
    List<Msg> batch = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      batch.add(new Msg("k" + i));
    }
    List<EachOutcome<Msg>> out = client.onceEach(NS, batch, EachSpec.ids(Msg::id), this::effect);

    for (EachOutcome<Msg> o : out) {
      assertInstanceOf(EachOutcome.Executed.class, o);
      Decision now = client.check(NS, o.messageId());
      assertEquals(Verdict.DUPLICATE, now.verdict(), o.messageId() + " committed");
      assertArrayEquals(("done " + o.messageId()).getBytes(StandardCharsets.UTF_8), now.result());
    }
  }

  @Test
  void aCommitThatFindsItsLeaseGoneIsUnconfirmedAndItsRepeatInTheBatchIsNotRun() {
    List<Msg> batch = List.of(new Msg("lost"), new Msg("kept"), new Msg("lost"));
    List<EachOutcome<Msg>> out = client.onceEach(NS, batch, EachSpec.ids(Msg::id), m -> {
      if (m.id().equals("lost")) {
        client.forget(NS, "lost"); // an admin's Forget takes the lease away mid-action
      }
      return effect(m);
    });

    EachOutcome.Unconfirmed<Msg> lost =
        assertInstanceOf(EachOutcome.Unconfirmed.class, out.get(0));
    assertInstanceOf(LeaseLostException.class, lost.cause());
    assertInstanceOf(EachOutcome.Executed.class, out.get(1));
    assertInstanceOf(EachOutcome.NotRun.class, out.get(2),
        "a repeat of an id not recorded as done is redelivered, not reported done");
    assertEquals(1, runsOf("lost"));
  }

  @Test
  void aFailureReleasesItsLeaseSoTheRedeliveryRunsIt() {
    AtomicInteger attempts = new AtomicInteger();
    List<EachOutcome<Msg>> out = client.onceEach(NS, List.of(new Msg("x"), new Msg("y")),
        EachSpec.ids(Msg::id), m -> {
          if (m.id().equals("x") && attempts.incrementAndGet() == 1) {
            throw new IllegalStateException("the card gateway timed out");
          }
          return effect(m);
        });
    EachOutcome.Failed<Msg> failed = assertInstanceOf(EachOutcome.Failed.class, out.get(0));
    assertTrue(failed.released());
    assertInstanceOf(EachOutcome.Executed.class, out.get(1), "no groups: the next goes on");
    assertEquals(Verdict.NEW, client.check(NS, "x").verdict(), "released, not left held");

    List<EachOutcome<Msg>> redelivered = client.onceEach(NS, List.of(new Msg("x")),
        EachSpec.ids(Msg::id), this::effect);
    assertInstanceOf(EachOutcome.Executed.class, redelivered.get(0));
    assertEquals(1, runsOf("x"));
  }

  @Test
  void anOrderedGroupStopsAtItsFirstFailureAndGivesBackTheRestsLeases() {
    List<Msg> batch = List.of(new Msg("g1-1", "b", "g1"), new Msg("g2-1", "b", "g2"),
        new Msg("g1-2", "b", "g1"), new Msg("g2-2", "b", "g2"), new Msg("g1-3", "b", "g1"));
    List<EachOutcome<Msg>> out = client.onceEach(NS, batch,
        EachSpec.ids(Msg::id).inGroups(Msg::group), m -> {
          if (m.id().equals("g1-2")) {
            throw new IllegalStateException("fails");
          }
          return effect(m);
        });
    assertInstanceOf(EachOutcome.Executed.class, out.get(0));
    assertInstanceOf(EachOutcome.Executed.class, out.get(1));
    assertInstanceOf(EachOutcome.Failed.class, out.get(2));
    assertInstanceOf(EachOutcome.Executed.class, out.get(3), "another group goes on");
    EachOutcome.NotRun<Msg> held = assertInstanceOf(EachOutcome.NotRun.class, out.get(4));
    assertTrue(held.reason().contains("group 'g1'"), held.reason());
    assertEquals(0, runsOf("g1-3"));
    assertEquals(Verdict.NEW, client.check(NS, "g1-3").verdict(), "its lease was given back");
  }

  @Test
  void anIdHeldElsewhereIsNotRunAndAConflictingPayloadIsAConflict() {
    Decision held = client.checkAndInsert(NS, "busy",
        InsertOptions.none().withLease(Duration.ofMinutes(1)));
    assertTrue(held.isNew());
    client.checkAndInsert(NS, "reused", InsertOptions.none()
        .withFingerprint("payload-1".getBytes(StandardCharsets.UTF_8)));
    List<EachOutcome<Msg>> out = client.onceEach(NS,
        List.of(new Msg("busy"), new Msg("reused", "payload-2", ""), new Msg(null), new Msg("")),
        EachSpec.ids(Msg::id).withFingerprints(m -> m.body().getBytes(StandardCharsets.UTF_8)),
        this::effect);
    EachOutcome.InProgressElsewhere<Msg> busy =
        assertInstanceOf(EachOutcome.InProgressElsewhere.class, out.get(0));
    assertEquals(held.leaseExpiresAt(), busy.leaseExpiresAt());
    assertInstanceOf(EachOutcome.Conflict.class, out.get(1));
    assertInstanceOf(EachOutcome.Invalid.class, out.get(2));
    assertInstanceOf(EachOutcome.Invalid.class, out.get(3));
    assertTrue(runs.isEmpty(), "nothing ran: " + runs);
  }

  @Test
  void anIdTwiceInABatchWithAnotherBodyIsNotTakenForTheFirstCopy() {
    List<EachOutcome<Msg>> out = client.onceEach(NS,
        List.of(new Msg("twin", "body-1", ""), new Msg("twin", "body-2", ""),
            new Msg("twin", "body-1", "")),
        EachSpec.ids(Msg::id).withFingerprints(m -> m.body().getBytes(StandardCharsets.UTF_8)),
        this::effect);
    assertInstanceOf(EachOutcome.Executed.class, out.get(0));
    assertInstanceOf(EachOutcome.NotRun.class, out.get(1), "not a duplicate of another body");
    assertInstanceOf(EachOutcome.AlreadyDone.class, out.get(2), "the same body is");
    List<EachOutcome<Msg>> redelivered = client.onceEach(NS,
        List.of(new Msg("twin", "body-2", "")),
        EachSpec.ids(Msg::id).withFingerprints(m -> m.body().getBytes(StandardCharsets.UTF_8)),
        this::effect);
    assertInstanceOf(EachOutcome.Conflict.class, redelivered.get(0));
    assertEquals(1, runsOf("twin"));
  }

  @Test
  void aLongActionKeepsItsLeaseAndTellsTheListenerEachNewEnd() {
    // Renewed every half lease: a renewal has 2 s to get through, even on a busy machine.
    Duration lease = Duration.ofSeconds(4);
    List<Instant> extended = Collections.synchronizedList(new ArrayList<>());
    List<EachOutcome<Msg>> out = client.onceEach(NS, List.of(new Msg("slow")),
        EachSpec.ids(Msg::id).withLease(lease).onLeaseExtended((m, end) -> extended.add(end)),
        m -> {
          TestNode.awaitCondition(Duration.ofMinutes(1), "three lease extensions told",
              () -> extended.size() >= 3);
          // Without the extensions the 4 s lease would be gone by now.
          assertEquals(Verdict.IN_PROGRESS, client.check(NS, "slow").verdict());
          return effect(m);
        });
    assertInstanceOf(EachOutcome.Executed.class, out.get(0));
    assertTrue(extended.get(2).isAfter(extended.get(0)), extended.toString());
  }

  @Test
  void anIdWhoseLeaseRanOutBehindASlowActionIsRenewedOrIfTakenOverNotRun() {
    // The batch's ids are leased together; "behind" and "kept" wait while "slow" outlives the
    // lease. Another consumer takes "behind" over once its lease has run out and does it.
    Duration lease = Duration.ofSeconds(1);
    List<EachOutcome<Msg>> out = client.onceEach(NS,
        List.of(new Msg("slow"), new Msg("behind"), new Msg("kept")),
        EachSpec.ids(Msg::id).withLease(lease), m -> {
          if (m.id().equals("slow")) {
            TestNode.awaitCondition(Duration.ofMinutes(1), "the waiting ids' leases run out",
                () -> client.check(NS, "behind").verdict() == Verdict.NEW
                    && client.check(NS, "kept").verdict() == Verdict.NEW);
            Decision other = client.checkAndInsert(NS, "behind",
                InsertOptions.none().withLease(Duration.ofMinutes(1)));
            assertTrue(other.isNew(), "taken over: " + other);
            client.commit(NS, "behind", other.attemptToken(), new byte[0]);
          }
          return effect(m);
        });
    assertInstanceOf(EachOutcome.Executed.class, out.get(0));
    assertInstanceOf(EachOutcome.NotRun.class, out.get(1), "not run again on its lost lease");
    assertEquals(0, runsOf("behind"), "only the other consumer did it");
    assertInstanceOf(EachOutcome.Executed.class, out.get(2),
        "its lease ran out too, but nobody took it: renewed and run");
    List<EachOutcome<Msg>> redelivered = client.onceEach(NS, List.of(new Msg("behind")),
        EachSpec.ids(Msg::id), this::effect);
    assertInstanceOf(EachOutcome.AlreadyDone.class, redelivered.get(0));
  }

  @Test
  void whenTheServiceIsDownNothingRunsAndEveryMessageIsNotRun() {
    String address = node.address();
    node.close();
    DedupeClient impatient = DedupeClient.builder().target(address)
        .retryBudget(Duration.ofMillis(300)).build();
    try {
      List<EachOutcome<Msg>> out = impatient.onceEach(NS, List.of(new Msg("p"), new Msg("q")),
          EachSpec.ids(Msg::id), this::effect);
      assertTrue(out.stream().allMatch(o -> o instanceof EachOutcome.NotRun<Msg>), out.toString());
      assertTrue(runs.isEmpty());
    } finally {
      impatient.close();
    }
  }
}
