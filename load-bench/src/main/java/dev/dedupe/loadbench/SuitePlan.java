package dev.dedupe.loadbench;

import java.util.ArrayList;
import java.util.List;

/**
 * The order of the suite's measurements: round after round; in each round every workload, and
 * for each workload every target once. The targets' order rotates by one each round, so that
 * none always goes first (the first measurement after a switch, or after a quiet spell, may
 * differ) and slow drifts of the machine spread over all of them.
 */
final class SuitePlan {

  /** One measurement to take. */
  record Step(int round, SuiteWorkload workload, SuiteTarget target) {}

  private SuitePlan() {}

  /**
   * @param rounds 1 or more
   * @param targets dedupe first, then the Redis targets; a client workload gets dedupe only
   */
  static List<Step> of(int rounds, List<SuiteWorkload> workloads, List<SuiteTarget> targets) {
    List<Step> steps = new ArrayList<>();
    for (int round = 1; round <= rounds; round++) {
      for (SuiteWorkload w : workloads) {
        List<SuiteTarget> these = w.viaClient()
            ? targets.stream().filter(t -> !t.isRedis()).toList() : targets;
        for (SuiteTarget t : rotated(these, round - 1)) {
          steps.add(new Step(round, w, t));
        }
      }
    }
    return steps;
  }

  /** {@code list} rotated left by {@code by}: [a, b, c] by 1 is [b, c, a]. */
  static <T> List<T> rotated(List<T> list, int by) {
    if (list.isEmpty()) {
      return list;
    }
    int k = Math.floorMod(by, list.size());
    List<T> out = new ArrayList<>(list.subList(k, list.size()));
    out.addAll(list.subList(0, k));
    return List.copyOf(out);
  }
}
