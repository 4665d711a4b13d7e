package dev.dedupe.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.cluster.ClusterState;
import dev.dedupe.server.cluster.NodeRegistration;
import dev.dedupe.server.moves.MoveJob;
import dev.dedupe.server.moves.MoveKind;
import dev.dedupe.server.moves.MovePhase;
import dev.dedupe.server.moves.Plan;
import dev.dedupe.server.moves.PlanKind;
import dev.dedupe.server.moves.RebalancePlanner;
import dev.dedupe.server.replication.ShardState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * {@code admin status} from hand-built readings: the flags and counts of each node, the shards
 * shown, and the summary for a healthy cluster, a node that joined empty, a drained node, a
 * drain running, shards under-replicated and offline, and a cluster not formed yet. The
 * unbalanced flag is checked against {@link RebalancePlanner} on the same view.
 */
class StatusReportTest {

  private static final String HEALTHY =
      "healthy: every shard fully replicated, balanced, nothing running";

  @Test
  void aBalancedClusterWithEveryShardInSyncIsHealthy() {
    Reading r = new Reading().nodes("node-0", "node-1", "node-2")
        .shard("node-0", "node-1", "node-2").shard("node-1", "node-2", "node-0")
        .shard("node-2", "node-0", "node-1");
    ClusterStatus status = ClusterStatus.of(r.build());
    String text = StatusReport.render(status, false);

    for (String n : List.of("node-0", "node-1", "node-2")) {
      assertTrue(row(text, n).matches(n + "\\s+" + n + ":50051\\s+-\\s+READY\\s+3\\s+1\\s+1\\s+-"),
          text);
    }
    assertTrue(text.contains("all 3 shards ok"), text);
    assertFalse(text.contains("SHARD"), "no shard table when every shard is ok:\n" + text);
    assertEquals(List.of(HEALTHY), StatusReport.summary(status));
    assertTrue(text.endsWith(HEALTHY + "\n"), text);
    assertTrue(text.startsWith("cluster it at zk:2181\ncontroller node-0 (controller epoch 3)\n"),
        text);
  }

  @Test
  void aNodeThatJoinedIsEmptyUntilARebalanceAndTheClusterIsUnbalancedAsTheDryRunSays() {
    Reading r = new Reading().nodes("node-0", "node-1", "node-2", "node-3")
        .shard("node-0", "node-1", "node-2").shard("node-1", "node-2", "node-0")
        .shard("node-2", "node-0", "node-1").shard("node-0", "node-2", "node-1");
    ClusterStatus status = ClusterStatus.of(r.build());
    String text = StatusReport.render(status, false);

    assertTrue(row(text, "node-3").matches(
        "node-3\\s+\\S+\\s+-\\s+READY\\s+0\\s+0\\s+0\\s+empty: run 'admin rebalance'"), text);
    assertTrue(row(text, "node-0").matches("node-0\\s+.*READY\\s+4\\s+2\\s+2\\s+-"), text);
    RebalancePlanner.Result dryRun = RebalancePlanner.plan(ClusterState.placementView(
        r.build().shards(), r.build().live(), Set.of()));
    long moves = dryRun.steps().stream().filter(s -> s.kind() == MoveKind.MOVE).count();
    long transfers = dryRun.steps().size() - moves;
    assertTrue(moves > 0, dryRun.toString());
    assertEquals(moves, status.rebalanceMoves());
    assertEquals(transfers, status.rebalanceTransfers());
    int changes = dryRun.steps().size();
    assertEquals(List.of("UNBALANCED: a rebalance would make " + changes + " changes (" + moves
        + " replica moves, " + transfers + " leadership transfer" + (transfers == 1 ? "" : "s")
        + "; see 'admin rebalance --dry-run')"), StatusReport.summary(status));
  }

  @Test
  void aNodeTheShardsCannotFillIsEmptyWithoutAdviceAndTheClusterIsBalanced() {
    // One shard with three replicas over four nodes: a rebalance has nothing to give node-3.
    ClusterStatus status = ClusterStatus.of(new Reading()
        .nodes("node-0", "node-1", "node-2", "node-3")
        .shard("node-0", "node-1", "node-2").build());
    String text = StatusReport.render(status, false);
    assertTrue(row(text, "node-3").endsWith(" empty: a rebalance gives it nothing"), text);
    assertEquals(List.of(HEALTHY), StatusReport.summary(status));
  }

  @Test
  void aDrainedEmptyNodeIsDrainedNotEmptyAndADrainRunningIsSaid() {
    Reading done = new Reading().nodes("node-0", "node-1", "node-2", "node-3")
        .shard("node-0", "node-1", "node-2").shard("node-1", "node-2", "node-0")
        .shard("node-2", "node-0", "node-1").drained("node-3");
    ClusterStatus drained = ClusterStatus.of(done.build());
    String text = StatusReport.render(drained, false);
    assertTrue(row(text, "node-3").matches("node-3\\s+.*READY\\s+0\\s+0\\s+0\\s+drained"), text);
    assertEquals(List.of(HEALTHY), StatusReport.summary(drained),
        "a rebalance leaves drained nodes alone: balanced over the others");

    // node-1 being drained: it holds two replicas still; one job of its plan runs, one waits,
    // and an old job is done.
    Reading running = new Reading().nodes("node-0", "node-1", "node-2", "node-3")
        .shard("node-0", "node-1", "node-2").shard("node-3", "node-2", "node-0")
        .shard("node-2", "node-0", "node-3").shard("node-1", "node-0", "node-3")
        .drained("node-1")
        .move(MoveJob.requested(MoveKind.MOVE, 0, "node-1", "node-3", "p-000004", 0)
            .withId("m-000009").inPhase(MovePhase.CATCH_UP, 0))
        .move(MoveJob.requested(MoveKind.MOVE, 3, "node-1", "node-2", "p-000004", 0)
            .withId("m-000010"))
        .move(MoveJob.requested(MoveKind.MOVE, 2, "node-0", "node-1", "", 0)
            .withId("m-000001").done(0))
        .plan(Plan.requested(PlanKind.DRAIN, "node-1", 2, List.of(), 0).withId("p-000004"))
        .throttle(10L << 20);
    ClusterStatus draining = ClusterStatus.of(running.build());
    String during = StatusReport.render(draining, false);
    assertTrue(row(during, "node-1").matches("node-1\\s+.*READY\\s+2\\s+1\\s+1\\s+drained"),
        during);
    List<String> summary = StatusReport.summary(draining);
    assertTrue(summary.contains("plans running: 1 (p-000004 (drain of node-1); see 'admin"
        + " plans')"), summary.toString());
    assertTrue(summary.contains("moves running: 2 (1 under way, 1 waiting their"
        + " turn; see 'admin moves')"), summary.toString());
    assertEquals("throttle: 10MiB/s per node ('admin throttle clear' lifts it)",
        summary.get(summary.size() - 1));
    assertFalse(summary.contains(HEALTHY), summary.toString());
  }

  @Test
  void shardsNotOkAreListedAloneAndCountedAndADownNodeIsFlagged() {
    Reading r = new Reading().nodes("node-0", "node-1")
        .shard("node-0", "node-1", "node-2").shard("node-1", "node-2", "node-0")
        .shard("node-0", "node-1", "node-2")
        .outOfSync(0, "node-2").outOfSync(1, "node-2")
        .offline(2, "node-2");
    r.decommissioned("node-7");
    ClusterStatus status = ClusterStatus.of(r.build());
    String text = StatusReport.render(status, false);

    assertTrue(row(text, "node-2").matches("node-2\\s+-\\s+-\\s+-\\s+3\\s+0\\s+0\\s+DOWN"), text);
    assertTrue(text.contains("decommissioned, gone for good: node-7\n"), text);
    assertTrue(text.lines().anyMatch(l -> l.matches(
        "0\\s+node-0\\s+3\\s+node-0,node-1,node-2\\*\\s+UNDER-REPLICATED: \\[node-2\\] not in"
            + " sync")), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("1\\s+node-1\\s+3\\s+node-1,node-2\\*,"
        + "node-0\\s+UNDER-REPLICATED: \\[node-2\\] not in sync")), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("2\\s+\\(none\\)\\s+3\\s+node-0\\*,node-1\\*,"
        + "node-2\\s+OFFLINE: no in-sync replica is live \\(last in sync: node-2\\)")), text);
    assertTrue(text.contains("3 shards: 0 fully replicated, 2 under-replicated, 1 offline\n"),
        text);
    List<String> summary = StatusReport.summary(status);
    assertEquals("OFFLINE: 1 shard (no leader: writes and checks fail)", summary.get(0));
    assertEquals("UNDER-REPLICATED: 2 shards", summary.get(1));
    assertFalse(summary.contains(HEALTHY), summary.toString());
  }

  @Test
  void allListsEveryShardAndEachNodesShards() {
    Reading r = new Reading().nodes("node-0", "node-1", "node-2")
        .shard("node-0", "node-1", "node-2").shard("node-1", "node-2", "node-0")
        .shard("node-2", "node-0", "node-1").outOfSync(1, "node-0");
    String text = StatusReport.render(ClusterStatus.of(r.build()), true);
    assertTrue(text.lines().anyMatch(l -> l.matches("0\\s+node-0\\s+3\\s+\\S+\\s+ok")), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("1\\s+node-1\\s+3\\s+\\S+\\s+UNDER.*")), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("node-0\\s+\\[0\\]\\s+\\[0, 1, 2\\]")), text);
    assertTrue(text.lines().anyMatch(l -> l.matches("NODE\\s+LEADS\\s+REPLICA OF")), text);
  }

  @Test
  void aClusterNotFormedYetSaysSoAndClaimsNothing() {
    ClusterStatus status = ClusterStatus.of(new Reading().nodes("node-0").build());
    String text = StatusReport.render(status, false);
    assertTrue(text.contains("shards: not formed yet"), text);
    assertTrue(row(text, "node-0").endsWith(" -"), "no shards, so not empty: " + text);
    assertEquals(List.of(), StatusReport.summary(status));
  }

  /** The node table's row for {@code node}. */
  private static String row(String text, String node) {
    return text.lines().filter(l -> l.startsWith(node + " ")).findFirst()
        .orElseThrow(() -> new AssertionError("no row for " + node + ":\n" + text));
  }

  /**
   * A reading built by hand: live nodes without zones, READY, each with store s-NODE open for
   * the shards it holds; shards led by their first replica, every replica in sync unless said.
   */
  private static final class Reading {
    private final List<String> live = new ArrayList<>();
    private final List<List<String>> replicas = new ArrayList<>();
    private final Map<Integer, List<String>> outOfSync = new TreeMap<>();
    private final Map<Integer, String> offlineWith = new TreeMap<>();
    private final List<String> drained = new ArrayList<>();
    private final List<String> decommissioned = new ArrayList<>();
    private final List<MoveJob> moves = new ArrayList<>();
    private final List<Plan> plans = new ArrayList<>();
    private OptionalLong throttle = OptionalLong.empty();

    Reading nodes(String... ids) {
      live.addAll(List.of(ids));
      return this;
    }

    Reading shard(String... nodes) {
      replicas.add(List.of(nodes));
      return this;
    }

    Reading outOfSync(int shard, String node) {
      outOfSync.computeIfAbsent(shard, s -> new ArrayList<>()).add(node);
      return this;
    }

    /** Shard without a leader, {@code lastInSync} its only in-sync member. */
    Reading offline(int shard, String lastInSync) {
      offlineWith.put(shard, lastInSync);
      return this;
    }

    Reading drained(String node) {
      drained.add(node);
      return this;
    }

    Reading decommissioned(String node) {
      decommissioned.add(node);
      return this;
    }

    Reading move(MoveJob job) {
      moves.add(job);
      return this;
    }

    Reading plan(Plan plan) {
      plans.add(plan);
      return this;
    }

    Reading throttle(long bytesPerSecond) {
      throttle = OptionalLong.of(bytesPerSecond);
      return this;
    }

    StatusReading build() {
      SortedMap<Integer, ShardState> shards = new TreeMap<>();
      Map<String, Map<Integer, String>> stores = new TreeMap<>();
      live.forEach(n -> stores.put(n, new TreeMap<>()));
      for (int s = 0; s < replicas.size(); s++) {
        List<String> r = replicas.get(s);
        Map<String, String> isr = new LinkedHashMap<>();
        String offline = offlineWith.get(s);
        for (String n : r) {
          if (offline != null ? n.equals(offline)
              : !outOfSync.getOrDefault(s, List.of()).contains(n)) {
            isr.put(n, "s-" + n);
          }
          if (stores.containsKey(n)) {
            stores.get(n).put(s, "s-" + n);
          }
        }
        shards.put(s, new ShardState(s, r, offline != null ? "" : r.get(0), 3, isr));
      }
      Map<String, NodeRegistration> registrations = new TreeMap<>();
      Map<String, String> health = new TreeMap<>();
      for (String n : live) {
        registrations.put(n, new NodeRegistration(n + ":50051", n + ":9090", n + ":7070", "",
            stores.get(n)));
        health.put(n, "READY");
      }
      return new StatusReading("it", "zk:2181", Optional.of("node-0"), 3, shards,
          registrations, health, Set.copyOf(drained), Set.copyOf(decommissioned), moves, plans,
          throttle);
    }
  }
}
