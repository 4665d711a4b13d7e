package dev.dedupe.server.shard.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Random scenarios over a few ids and tokens, sized so that lease ends, windows and 60-second
 * bucket boundaries are crossed often: clock steps of 0 to 241 s against leases of 10 to 90 s
 * and windows of 90 to 240 s. One seed decides the whole scenario.
 */
public final class ScenarioGenerator {

  public static final List<String> IDS = List.of("a", "b", "c", "d");
  private static final List<String> TOKENS = List.of("T1", "T2", "T3");
  private static final long[] WINDOWS = {90_000, 150_000, 240_000};
  private static final long[] STEPS =
      {0, 0, 1_000, 15_000, 30_000, 44_999, 59_999, 60_000, 61_000, 90_000, 150_000, 241_000};
  private static final long[] LEASES = {10_000, 20_000, 45_000, 90_000};

  private final Random random;
  private int idCount;

  private ScenarioGenerator(Random random) {
    this.random = random;
  }

  public static Scenario generate(long seed) {
    return new ScenarioGenerator(new Random(seed)).scenario();
  }

  private Scenario scenario() {
    idCount = 3 + random.nextInt(2);
    int rounds = 1 + random.nextInt(12);
    List<ModelRound> list = new ArrayList<>();
    for (int i = 0; i < rounds; i++) {
      int ops = random.nextInt(4) == 0 ? 1 + random.nextInt(12) : 1 + random.nextInt(4);
      List<ModelOp> round = new ArrayList<>();
      for (int j = 0; j < ops; j++) {
        round.add(op());
      }
      list.add(new ModelRound(i == 0 ? 0 : pick(STEPS), round));
    }
    // Reopening RocksDB costs about as much as ten scenarios, so one in twenty ends with it.
    return new Scenario(pick(WINDOWS), random.nextInt(60_000), list, random.nextInt(20) == 0);
  }

  private ModelOp op() {
    int kind = random.nextInt(100);
    List<String> ids = ids();
    if (kind < 40) {
      String token = random.nextInt(10) < 3 ? "" : pickOf(TOKENS);
      long lease = random.nextInt(10) < 4 ? 0 : pick(LEASES);
      return new ModelOp.CheckAndInsert(ids, token, lease, perId(ids.size(), "F"));
    }
    if (kind < 48) {
      return new ModelOp.Check(ids);
    }
    if (kind < 58) {
      return new ModelOp.Forget(ids);
    }
    String token = random.nextInt(20) == 0 ? "" : pickOf(TOKENS);
    if (kind < 75) {
      return new ModelOp.Commit(ids, token, perId(ids.size(), "r"));
    }
    if (kind < 88) {
      return new ModelOp.Release(ids, token);
    }
    return new ModelOp.ExtendLease(ids, token, pick(LEASES));
  }

  /** One id mostly; sometimes two or three, which may repeat an id within the request. */
  private List<String> ids() {
    int n = random.nextInt(10) < 6 ? 1 : 2 + random.nextInt(2);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add(IDS.get(random.nextInt(idCount)));
    }
    return ids;
  }

  /** None (empty), the same value for every id, or a value or none per id. */
  private List<String> perId(int n, String prefix) {
    int shape = random.nextInt(4);
    if (shape < 2) {
      return List.of();
    }
    List<String> values = new ArrayList<>();
    String same = prefix + (1 + random.nextInt(2));
    for (int i = 0; i < n; i++) {
      int v = random.nextInt(3);
      values.add(shape == 2 ? same : v == 0 ? "" : prefix + v);
    }
    return values;
  }

  private long pick(long[] values) {
    return values[random.nextInt(values.length)];
  }

  private String pickOf(List<String> values) {
    return values.get(random.nextInt(values.size()));
  }
}
