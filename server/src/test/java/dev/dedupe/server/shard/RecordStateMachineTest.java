package dev.dedupe.server.shard;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.dedupe.server.shard.model.ModelCheckRun;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Model-based randomized test of the record state machine: random scenarios of all six
 * operations, many per group-commit round, run against the real ShardWriter over a real
 * RocksShardStore and compared answer by answer with a small reference model of the rules in
 * docs/design.md. A failure prints its seed and a shrunk scenario.
 *
 * <p>Replay a failure with {@code -Ddedupe.model.seed=SEED -Ddedupe.model.tries=1}; run longer
 * with a larger {@code dedupe.model.tries}.
 */
class RecordStateMachineTest {

  @TempDir Path dir;

  @Test
  void theRealShardAnswersAsTheModelSays() {
    ModelCheckRun.Outcome outcome = ModelCheckRun.fromSystemProperties(dir).run();
    System.out.println(outcome.summary());
    if (outcome.failure() != null) {
      fail(outcome.failure());
    }
    // The generator must reach every kind of answer, or a passing run proves little.
    for (String kind : new String[] {"NEW", "NEW replay", "DUPLICATE", "IN_PROGRESS", "CONFLICT",
        "OK", "LOST", "removed", "not held"}) {
      assertTrue(outcome.answerKinds().getOrDefault(kind, 0L) > 0,
          "no " + kind + " answer in " + outcome.answerKinds());
    }
  }
}
