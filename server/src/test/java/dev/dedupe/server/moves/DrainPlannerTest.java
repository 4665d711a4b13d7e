package dev.dedupe.server.moves;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * {@link DrainPlanner} and {@link ReplicaChoice}: leaderships first, then replicas, to live,
 * non-drained nodes with the fewest replicas, in distinct zones; refusals before anything is
 * planned; a heal of a dead node.
 */
class DrainPlannerTest {

  @Test
  void aDrainTransfersLeadershipsFirstThenMovesEveryReplicaToTheEmptiestNodes() {
    List<List<String>> placed = Views.roundRobin(List.of("n1", "n2", "n3"), 6, 2);
    PlacementView view = Views.view(Views.nodes("n1", "n2", "n3", "n4"), placed, Set.of("n1"));

    List<PlannedStep> steps = DrainPlanner.plan(view, "n1", true, "drain");

    List<PlannedStep> transfers = steps.stream()
        .filter(s -> s.kind() == MoveKind.TRANSFER_LEADER).toList();
    List<PlannedStep> moves = steps.stream().filter(s -> s.kind() == MoveKind.MOVE).toList();
    assertEquals(List.of(0, 3), transfers.stream().map(PlannedStep::shard).toList(),
        "n1 leads shards 0 and 3");
    assertEquals(transfers, steps.subList(0, transfers.size()), "transfers first");
    transfers.forEach(t -> assertFalse(t.to().equals("n1"), t.describe()));
    assertEquals(List.of(0, 2, 3, 5), moves.stream().map(PlannedStep::shard).toList());
    moves.forEach(m -> assertEquals("n1", m.from()));
    // n4 holds nothing: it gets replicas first, and no shard gets two on one node.
    assertEquals("n4", moves.get(0).to());
    for (PlannedStep m : moves) {
      assertFalse(view.shards().get(m.shard()).replicas().contains(m.to()), m.describe());
    }
    assertEquals(steps, DrainPlanner.plan(view, "n1", true, "drain"), "deterministic");
  }

  @Test
  void aDrainWithNowhereToPutAReplicaIsRefusedSayingWhy() {
    PlacementView view = Views.view(Views.nodes("n1", "n2", "n3"),
        Views.roundRobin(List.of("n1", "n2", "n3"), 3, 3), Set.of("n1"));
    MoveRefusedException e = assertThrows(MoveRefusedException.class,
        () -> DrainPlanner.plan(view, "n1", true, "drain"));
    assertEquals(MoveRefusedException.Reason.FAILED_PRECONDITION, e.reason());
    assertTrue(e.getMessage().contains("nowhere to go"), e.getMessage());
    assertTrue(e.getMessage().contains("Nothing was changed"), e.getMessage());
  }

  @Test
  void aDrainedNodeIsNeverATarget() {
    PlacementView view = Views.view(Views.nodes("n1", "n2", "n3", "n4"),
        Views.roundRobin(List.of("n1", "n2", "n3"), 3, 2), Set.of("n1", "n4"));
    List<PlannedStep> steps = DrainPlanner.plan(view, "n1", true, "drain");
    steps.forEach(s -> assertFalse(s.to().equals("n4"), s.describe()));
  }

  @Test
  void zonesStayDistinctOrTheDrainIsRefused() {
    Map<String, String> zones = new TreeMap<>(Map.of("a1", "a", "b1", "b", "c1", "c",
        "a2", "a", "c2", "c"));
    PlacementView view = Views.view(zones, List.of(List.of("a1", "b1", "c1")), Set.of("c1"));
    List<PlannedStep> steps = DrainPlanner.plan(view, "c1", true, "drain");
    assertEquals("c2", steps.get(steps.size() - 1).to(), "only c2 keeps three zones");

    PlacementView noSpare = Views.view(new TreeMap<>(Map.of("a1", "a", "b1", "b", "c1", "c",
        "a2", "a")), List.of(List.of("a1", "b1", "c1")), Set.of("c1"));
    MoveRefusedException e = assertThrows(MoveRefusedException.class,
        () -> DrainPlanner.plan(noSpare, "c1", true, "drain"));
    assertTrue(e.getMessage().contains("distinct zones"), e.getMessage());
  }

  @Test
  void anUnknownNodeIsAnInvalidArgumentNamingTheField() {
    PlacementView view = Views.view(Views.nodes("n1", "n2"),
        Views.roundRobin(List.of("n1", "n2"), 2, 2), Set.of());
    MoveRefusedException e = assertThrows(MoveRefusedException.class,
        () -> DrainPlanner.plan(view, "n9", true, "drain"));
    assertEquals(MoveRefusedException.Reason.INVALID_ARGUMENT, e.reason());
    assertEquals(DrainPlanner.NODE, e.field());
  }

  @Test
  void aHealOfADeadNodeMovesItsReplicasWithoutTransfers() {
    // n1 is dead (not live); its shards are led by others now.
    PlacementView view = Views.view(Views.nodes("n2", "n3", "n4"),
        Views.roundRobin(List.of("n1", "n2", "n3"), 3, 2), Set.of());
    List<PlannedStep> steps = DrainPlanner.plan(view, "n1", false, "heal");
    assertTrue(steps.stream().allMatch(s -> s.kind() == MoveKind.MOVE && s.from().equals("n1")));
    assertEquals(2, steps.size(), "n1 held shards 0 and 2");
    assertEquals("n4", steps.get(0).to(), "the emptiest live node first");
  }
}
