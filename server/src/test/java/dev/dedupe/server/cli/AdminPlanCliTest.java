package dev.dedupe.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.admin.v1.Move;
import dev.dedupe.admin.v1.MoveKind;
import dev.dedupe.admin.v1.NodeBalance;
import dev.dedupe.admin.v1.Plan;
import dev.dedupe.admin.v1.PlanKind;
import dev.dedupe.admin.v1.PlanState;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.testing.TestConfigs;
import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code admin drain | undrain | decommission | rebalance | plans | cancel-plan} at the edges:
 * a standalone node's refusal in one line, wrong words refused before a call, and the tables
 * they print. (PlanTest drives the RPCs on a real cluster.)
 */
class AdminPlanCliTest {

  @TempDir static Path dir;
  private static DedupeNode node;
  private static String target;

  @BeforeAll
  static void startNode() {
    node = DedupeNode.start(TestConfigs.forDataDir(dir.resolve("node"), Map.of()),
        InstantSource.system());
    target = "127.0.0.1:" + node.grpcPort();
  }

  @AfterAll
  static void stopNode() {
    node.close();
  }

  @Test
  void everyPlanCommandOnAStandaloneNodeSaysWhyInOneLine() {
    for (String[] args : List.of(
        new String[] {"admin", "drain", "--target", target, "node-1"},
        new String[] {"admin", "undrain", "--target", target, "node-1"},
        new String[] {"admin", "decommission", "--target", target, "node-1"},
        new String[] {"admin", "rebalance", "--target", target, "--dry-run"},
        new String[] {"admin", "plans", "--target", target},
        new String[] {"admin", "plans", "--target", target, "--watch"},
        new String[] {"admin", "cancel-plan", "--target", target, "p-000001"})) {
      CliTest.Ran ran = CliTest.run(args);
      assertEquals(Main.FAILED, ran.code(), String.join(" ", args) + ": " + ran);
      assertTrue(ran.err().contains("FAILED_PRECONDITION: this node runs standalone"),
          ran.err());
      assertEquals(1, ran.err().lines().count(), ran.err());
      ran.assertOneLineError();
    }
  }

  @Test
  void wrongWordsAreRefusedBeforeAnyCall() {
    CliTest.Ran notANumber = CliTest.run("admin", "drain", "--target", target,
        "--max-concurrent", "many", "node-1");
    assertEquals(Main.USAGE, notANumber.code(), notANumber.toString());
    assertTrue(notANumber.err().contains("--max-concurrent"), notANumber.err());
    notANumber.assertOneLineError();
    CliTest.Ran noNode = CliTest.run("admin", "drain", "--target", target);
    assertEquals(Main.USAGE, noNode.code(), noNode.toString());
    assertTrue(noNode.err().contains("NODE"), noNode.err());
  }

  @Test
  void thePlansTableShowsEachPlanOnOneRow() {
    Instant now = Instant.parse("2026-12-02T17:00:00Z");
    Plan plan = Plan.newBuilder().setPlanId("p-000007").setKind(PlanKind.PLAN_KIND_DRAIN)
        .setNodeId("node-2").setState(PlanState.PLAN_STATE_RUNNING).setMaxConcurrent(2)
        .setJobsTotal(5).setJobsDone(3).setJobsFailed(1)
        .setCreateTime(com.google.protobuf.Timestamp.newBuilder()
            .setSeconds(now.getEpochSecond() - 75)).build();
    String table = PlansTable.plans(List.of(plan), now);
    assertTrue(table.lines().anyMatch(l -> l.matches(
        "p-000007\\s+DRAIN\\s+node-2\\s+RUNNING\\s+3/5 done, 1 failed\\s+1m15s\\s+-")), table);
    assertTrue(table.endsWith("1 plan running\n"), table);
    assertEquals("no plans (none running, none kept)\n", PlansTable.plans(List.of(), now));
  }

  @Test
  void aRebalancesStepsAndCountsAreTables() {
    String steps = PlansTable.steps(List.of(
        Move.newBuilder().setShard(3).setFromNode("node-1").setToNode("node-4")
            .setKind(MoveKind.MOVE_KIND_MOVE_REPLICA).build(),
        Move.newBuilder().setMoveId("m-000012").setShard(5).setFromNode("node-0")
            .setToNode("node-4").setKind(MoveKind.MOVE_KIND_TRANSFER_LEADER).build()));
    assertTrue(steps.lines().anyMatch(l -> l.matches("3\\s+node-1 -> node-4\\s+replica")), steps);
    assertTrue(steps.lines().anyMatch(l -> l.matches(
        "5\\s+node-0 -> node-4\\s+leader \\(m-000012\\)")), steps);
    String counts = PlansTable.balance(List.of(NodeBalance.newBuilder().setNodeId("node-4")
        .setReplicasBefore(0).setReplicasAfter(12).setLeadersBefore(0).setLeadersAfter(4)
        .build()));
    assertTrue(counts.lines().anyMatch(l -> l.matches("node-4\\s+0 -> 12\\s+0 -> 4")), counts);
  }

  @Test
  void theMovesTableGetsAPlanColumnWhenAJobBelongsToAPlan() {
    Instant now = Instant.parse("2026-12-02T17:00:00Z");
    Move planned = Move.newBuilder().setMoveId("m-000008").setShard(3).setFromNode("node-1")
        .setToNode("node-4").setKind(MoveKind.MOVE_KIND_MOVE_REPLICA).setPlanId("p-000002")
        .setPhase(dev.dedupe.admin.v1.MovePhase.MOVE_PHASE_PENDING)
        .setState(dev.dedupe.admin.v1.MoveState.MOVE_STATE_RUNNING).build();
    Move alone = planned.toBuilder().setMoveId("m-000009").setPlanId("").build();
    String table = MovesTable.render(List.of(planned, alone), now);
    assertTrue(table.startsWith("PLAN       ID"), table);
    assertTrue(table.lines().anyMatch(l -> l.startsWith("p-000002   m-000008")), table);
    assertTrue(table.lines().anyMatch(l -> l.startsWith("-          m-000009")), table);
    assertTrue(table.endsWith("2 moves running\n"), table);
    assertTrue(MovesTable.render(List.of(alone), now).startsWith("ID"), "no plan, no column");
  }
}
