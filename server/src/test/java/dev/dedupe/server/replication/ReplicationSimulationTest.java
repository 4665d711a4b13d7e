package dev.dedupe.server.replication;

import static org.junit.jupiter.api.Assertions.fail;

import dev.dedupe.server.replication.sim.SimCluster;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Deterministic simulation of the replication protocol (STYLE.md items 16 and 17): the real
 * pure protocol classes driven against a simulated network, disk, clocks and ZooKeeper, under
 * seeded fault schedules, with a history checked after healing (see {@code sim.Checker}).
 *
 * <p>{@code -Dsim.seeds=N} runs N seeds (default 2000) from {@code -Dsim.first} (default 1);
 * {@code -Dsim.seed=S} replays one seed with its trace.
 */
class ReplicationSimulationTest {

  private static final String REPLAY = "./mvnw -q -pl server -am test "
      + "-Dtest=ReplicationSimulationTest -Dsurefire.failIfNoSpecifiedTests=false -Dsim.seed=";

  @Test
  void seededFaultSchedulesKeepEveryInvariant() {
    String one = System.getProperty("sim.seed");
    long first = one != null ? Long.parseLong(one) : Long.getLong("sim.first", 1);
    int seeds = one != null ? 1 : Integer.getInteger("sim.seeds", 2000);
    long started = System.nanoTime();
    long steps = 0;
    long calls = 0;
    long lost = 0;
    long handovers = 0;
    List<String> failed = new ArrayList<>();
    for (long seed = first; seed < first + seeds; seed++) {
      SimCluster.Outcome o = SimCluster.run(seed, one != null ? 400 : 0);
      steps += o.steps();
      calls += o.calls();
      lost += o.lostShards();
      handovers += o.handovers();
      if (!o.ok()) {
        SimCluster.Outcome traced = one != null ? o : SimCluster.run(seed, 400);
        System.out.println("SEED " + seed + " FAILED (" + o.cfg() + "):\n  "
            + String.join("\n  ", o.failures()) + "\n--- last events ---\n" + traced.trace()
            + "\n--- replay: " + REPLAY + seed);
        failed.add(seed + ": " + o.failures().get(0));
        if (failed.size() >= 5) {
          break;
        }
      } else if (one != null) {
        System.out.println("seed " + seed + " ok (" + o.cfg() + "), " + o.steps() + " steps, "
            + o.calls() + " calls\n" + o.trace());
      }
    }
    System.out.printf("simulation: %d seeds, %d steps, %d client calls, %d clean handovers, %d"
        + " shards offline after a lost disk (by design), %.1f s%n", seeds, steps, calls,
        handovers, lost, (System.nanoTime() - started) / 1e9);
    if (one == null && seeds >= 100 && handovers == 0) {
      fail("no run handed a leadership over: the simulation no longer injects handovers");
    }
    if (!failed.isEmpty()) {
      fail("failing seeds (replay with " + REPLAY + "<seed>):\n" + String.join("\n", failed));
    }
  }
}
