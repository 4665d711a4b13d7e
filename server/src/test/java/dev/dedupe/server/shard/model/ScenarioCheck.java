package dev.dedupe.server.shard.model;

import dev.dedupe.server.testing.ManualClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs scenarios against one real shard and the reference model side by side, and says where
 * they first disagree. Per scenario: a new writer over the same store, the clock set back to the
 * same start, and the namespace emptied. After every round it also checks every id and compares
 * keys_held with the model's records; at the end it reopens the store from disk and checks again.
 */
final class ScenarioCheck implements AutoCloseable {

  /** 2026-11-23T10:00:00Z, a bucket boundary. */
  private static final long START_MILLIS = 1_795_428_000_000L;

  private static final String NAMESPACE = "model";
  private int freshNamespaces;

  private final ManualClock clock = new ManualClock(START_MILLIS);
  private final ShardUnderTest shard;
  /** Answers seen, by their first word (NEW, DUPLICATE, LOST, ...), to show what was covered. */
  private final Map<String, Long> answerKinds = new TreeMap<>();
  private long reopenNanos;
  private int reopens;

  ScenarioCheck(Path dataDir) {
    shard = new ShardUnderTest(dataDir, clock);
  }

  /** Runs one scenario; returns why the real shard disagreed with the model, or null. */
  String failureOf(Scenario s) {
    return run(s, NAMESPACE);
  }

  /**
   * The same in a namespace never used before, for shrinking: a failed scenario may have left
   * the shared namespace in a state that a Forget does not repair (a skewed counter), and each
   * shrink run must fail or pass on its own.
   */
  String failureInFreshNamespace(Scenario s) {
    return run(s, NAMESPACE + "-" + ++freshNamespaces);
  }

  private String run(Scenario s, String ns) {
    try {
      // Every scenario runs over the same stretch of time, so that its buckets (column
      // families) already exist: creating one costs a manifest write, far more than a round.
      // A new writer has seen no time yet, so the clock may go back to the start.
      shard.newWriter();
      clock.advance(Duration.ofMillis(START_MILLIS + s.startOffsetMillis() - clock.millis()));
      // One namespace for all scenarios, emptied by a Forget of every id: a namespace per
      // scenario would leave a counter per namespace in every bucket, and reading keys_held
      // would slow down with every scenario run.
      Answers cleanup = new Answers(clock.millis());
      shard.runRound(ns, s.windowMillis(), List.of(new ModelOp.Forget(ScenarioGenerator.IDS)), cleanup);
      long left = shard.keysHeld(ns);
      if (left != 0) {
        return "the Forget of every id before the scenario left " + left + " keys held";
      }
      Answers answers = new Answers(clock.millis());
      RecordModel model = new RecordModel(s.windowMillis(), ShardUnderTest.BUCKET_MILLIS, answers);

      for (int r = 0; r < s.rounds().size(); r++) {
        ModelRound round = s.rounds().get(r);
        clock.advance(Duration.ofMillis(round.stepMillis()));
        long now = clock.millis();
        List<List<String>> real = shard.runRound(ns, s.windowMillis(), round.ops(), answers);
        for (int i = 0; i < round.ops().size(); i++) {
          ModelOp op = round.ops().get(i);
          List<String> expected = model.apply(op, now);
          count(real.get(i));
          if (!expected.equals(real.get(i))) {
            return "round " + (r + 1) + ", request " + (i + 1) + " " + op + ": expected "
                + expected + " but the shard answered " + real.get(i);
          }
        }
        String readBack = readBack(ns, s.windowMillis(), model, answers, now);
        if (readBack != null) {
          return "after round " + (r + 1) + ": " + readBack;
        }
      }
      if (!s.reopenAtEnd()) {
        return null;
      }
      long reopening = System.nanoTime();
      shard.reopen();
      reopenNanos += System.nanoTime() - reopening;
      reopens++;
      String afterReopen = readBack(ns, s.windowMillis(), model, answers, clock.millis());
      return afterReopen == null ? null : "after reopening the store: " + afterReopen;
    } catch (RuntimeException e) {
      return "the run threw " + e;
    }
  }

  private String readBack(String ns, long window, RecordModel model, Answers answers, long now) {
    ModelOp checkAll = new ModelOp.Check(ScenarioGenerator.IDS);
    List<String> real = shard.runRound(ns, window, List.of(checkAll), answers).get(0);
    List<String> expected = model.apply(checkAll, now);
    if (!expected.equals(real)) {
      return checkAll + " expected " + expected + " but the shard answered " + real;
    }
    long held = shard.keysHeld(ns);
    if (held != model.recordsHeld()) {
      return "keys held: expected " + model.recordsHeld() + " but the store counts " + held;
    }
    return null;
  }

  private void count(List<String> answers) {
    for (String a : answers) {
      String kind = a.startsWith("not held") ? a : a.split(" ")[0] + (a.contains(" replay") ? " replay" : "");
      answerKinds.merge(kind, 1L, Long::sum);
    }
  }

  String reopenSummary() {
    return String.format("%d reopens took %.1f s", reopens, reopenNanos / 1e9);
  }

  Map<String, Long> answerKinds() {
    return answerKinds;
  }

  @Override
  public void close() {
    shard.close();
  }
}
