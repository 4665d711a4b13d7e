package dev.dedupe.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.moves.MoveJob;
import dev.dedupe.server.moves.MoveKind;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The grace of removed replicas' data, and the rule that ends a throttle, on their own. */
class RemovedReplicasTest {

  private static final long SECOND = 1_000_000_000L;

  @Test
  void dataOfAShardNoLongerHeldIsDueOnlyOnceItsGraceHasPassed() {
    AtomicLong now = new AtomicLong();
    RemovedReplicas removed = new RemovedReplicas(Duration.ofSeconds(10), now::get);
    Set<Integer> onDisk = Set.of(0, 1, 2);
    assertEquals(List.of(), removed.due(List.of(0, 1), onDisk::contains, 4));
    assertEquals(1, removed.waiting(), "shard 2 is held on disk without a replica here");
    now.addAndGet(9 * SECOND);
    assertEquals(List.of(), removed.due(List.of(0, 1), onDisk::contains, 4));
    now.addAndGet(SECOND);
    assertEquals(List.of(2), removed.due(List.of(0, 1), onDisk::contains, 4));
    removed.deleted(2);
    assertEquals(0, removed.waiting());
  }

  @Test
  void aShardThatIsAReplicaAgainIsForgottenAndItsGraceStartsAnewIfItLeavesAgain() {
    AtomicLong now = new AtomicLong();
    RemovedReplicas removed = new RemovedReplicas(Duration.ofSeconds(10), now::get);
    Set<Integer> onDisk = Set.of(3);
    removed.due(List.of(), onDisk::contains, 4);
    now.addAndGet(8 * SECOND);
    assertEquals(List.of(), removed.due(List.of(3), onDisk::contains, 4), "moved back");
    now.addAndGet(8 * SECOND);
    assertEquals(List.of(), removed.due(List.of(), onDisk::contains, 4), "a new grace");
    now.addAndGet(10 * SECOND);
    assertEquals(List.of(3), removed.due(List.of(), onDisk::contains, 4));
  }

  @Test
  void aZeroGraceDeletesAtOnce() {
    RemovedReplicas removed = new RemovedReplicas(Duration.ZERO, () -> 0);
    assertEquals(List.of(1), removed.due(List.of(0), Set.of(0, 1)::contains, 2));
  }

  @Test
  void aThrottleEndsWhenNoMoveRunsAndOneFinishedAfterItWasSet() {
    MoveJob running = MoveJob.requested(MoveKind.MOVE, 1, "a", "b", "", 100).withId("m-000001");
    MoveJob doneBefore = running.done(150);
    MoveJob doneAfter = running.done(250);
    assertTrue(!ThrottleExpiry.ends(200, List.of()), "no move at all");
    assertTrue(!ThrottleExpiry.ends(200, List.of(doneBefore)), "set after the last move ended");
    assertTrue(!ThrottleExpiry.ends(200, List.of(doneAfter, running)), "a move still runs");
    assertTrue(ThrottleExpiry.ends(200, List.of(doneBefore, doneAfter)));
  }
}
