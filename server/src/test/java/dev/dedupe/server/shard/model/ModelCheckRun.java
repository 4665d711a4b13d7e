package dev.dedupe.server.shard.model;

import java.nio.file.Path;
import java.util.Map;

/**
 * Runs many seeded scenarios through a {@link ScenarioCheck}; on the first failure it shrinks the
 * scenario and reports the seed, the original size, and the shrunk scenario with its failure.
 */
public final class ModelCheckRun {

  /** Scenarios per run by default: a few thousand in well under a minute on two cores. */
  static final int DEFAULT_TRIES = 2000;
  private static final int MAX_SHRINK_RUNS = 3000;

  private final Path dataDir;
  private final long firstSeed;
  private final int tries;

  public ModelCheckRun(Path dataDir, long firstSeed, int tries) {
    this.dataDir = dataDir;
    this.firstSeed = firstSeed;
    this.tries = tries;
  }

  /** Seeds from {@code dedupe.model.seed} (else random) and {@code dedupe.model.tries}. */
  public static ModelCheckRun fromSystemProperties(Path dataDir) {
    String seed = System.getProperty("dedupe.model.seed");
    long first = seed == null ? new java.security.SecureRandom().nextLong() : Long.parseLong(seed);
    return new ModelCheckRun(dataDir, first, Integer.getInteger("dedupe.model.tries", DEFAULT_TRIES));
  }

  public record Outcome(String summary, String failure, Map<String, Long> answerKinds) {}

  public Outcome run() {
    long started = System.nanoTime();
    int rounds = 0;
    int requests = 0;
    try (ScenarioCheck check = new ScenarioCheck(dataDir)) {
      for (int i = 0; i < tries; i++) {
        long seed = firstSeed + i;
        Scenario scenario = ScenarioGenerator.generate(seed);
        rounds += scenario.rounds().size();
        requests += scenario.opCount();
        String failure = check.failureOf(scenario);
        if (failure != null) {
          ScenarioShrinker shrinker = new ScenarioShrinker(check::failureInFreshNamespace, MAX_SHRINK_RUNS);
          ScenarioShrinker.Shrunk shrunk = shrinker.shrink(scenario, failure);
          String report = "the real shard disagreed with the model in scenario " + (i + 1)
              + ", seed " + seed + " (replay: -Ddedupe.model.seed=" + seed
              + " -Ddedupe.model.tries=1)\n"
              + "original: " + scenario.rounds().size() + " rounds, " + scenario.opCount()
              + " requests: " + failure + "\n"
              + "shrunk (" + shrinker.runs() + " shrink runs) to " + shrunk.scenario() + "\n"
              + "which fails with: " + shrunk.failure();
          return new Outcome(summary(i + 1, rounds, requests, started, check), report, check.answerKinds());
        }
      }
      return new Outcome(summary(tries, rounds, requests, started, check), null, check.answerKinds());
    }
  }

  private String summary(int scenarios, int rounds, int requests, long started, ScenarioCheck check) {
    return String.format("record state machine: %d scenarios (%d rounds, %d requests) from seed %d"
        + " in %.1f s (%s); answers %s", scenarios, rounds, requests, firstSeed,
        (System.nanoTime() - started) / 1e9, check.reopenSummary(), check.answerKinds());
  }
}
