package dev.dedupe.server.shard.model;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Shrinks a failing scenario greedily: it tries smaller variants (a round or a request left out,
 * an id dropped from a batch, a token, lease, fingerprint or result removed, a clock step set to
 * zero) and keeps the first that still fails, until no variant fails or the budget is spent.
 */
public final class ScenarioShrinker {

  private final Function<Scenario, String> failureOf;
  private final int maxRuns;
  private int runs;

  /**
   * @param failureOf runs a scenario and returns why it failed, or null if it passed
   */
  public ScenarioShrinker(Function<Scenario, String> failureOf, int maxRuns) {
    this.failureOf = failureOf;
    this.maxRuns = maxRuns;
  }

  public int runs() {
    return runs;
  }

  /** The smallest failing scenario found, and why it fails. */
  public Shrunk shrink(Scenario failing, String failure) {
    Scenario current = failing;
    String why = failure;
    boolean progress = true;
    while (progress && runs < maxRuns) {
      progress = false;
      for (Scenario candidate : smaller(current)) {
        if (runs++ >= maxRuns) {
          break;
        }
        String f = failureOf.apply(candidate);
        if (f != null) {
          current = candidate;
          why = f;
          progress = true;
          break;
        }
      }
    }
    return new Shrunk(current, why);
  }

  public record Shrunk(Scenario scenario, String failure) {}

  private static List<Scenario> smaller(Scenario s) {
    List<Scenario> out = new ArrayList<>();
    if (s.reopenAtEnd()) {
      out.add(new Scenario(s.windowMillis(), s.startOffsetMillis(), s.rounds(), false));
    }
    List<ModelRound> rounds = s.rounds();
    for (int i = rounds.size() - 1; i >= 0 && rounds.size() > 1; i--) {
      List<ModelRound> fewer = new ArrayList<>(rounds);
      fewer.remove(i);
      out.add(with(s, fewer));
    }
    for (int i = 0; i < rounds.size(); i++) {
      ModelRound round = rounds.get(i);
      for (int j = round.ops().size() - 1; j >= 0 && round.ops().size() > 1; j--) {
        List<ModelOp> ops = new ArrayList<>(round.ops());
        ops.remove(j);
        out.add(replace(s, i, new ModelRound(round.stepMillis(), ops)));
      }
    }
    for (int i = 0; i < rounds.size(); i++) {
      ModelRound round = rounds.get(i);
      for (int j = 0; j < round.ops().size(); j++) {
        for (ModelOp simpler : simpler(round.ops().get(j))) {
          List<ModelOp> ops = new ArrayList<>(round.ops());
          ops.set(j, simpler);
          out.add(replace(s, i, new ModelRound(round.stepMillis(), ops)));
        }
      }
      if (round.stepMillis() != 0) {
        out.add(replace(s, i, new ModelRound(0, round.ops())));
      }
    }
    return out;
  }

  private static List<ModelOp> simpler(ModelOp op) {
    List<ModelOp> out = new ArrayList<>();
    List<String> ids = op.ids();
    for (int k = 0; k < ids.size() && ids.size() > 1; k++) {
      List<String> fewer = new ArrayList<>(ids);
      fewer.remove(k);
      out.add(withIds(op, fewer, k));
    }
    switch (op) {
      case ModelOp.CheckAndInsert c -> {
        if (!c.fingerprints().isEmpty()) {
          out.add(new ModelOp.CheckAndInsert(c.ids(), c.token(), c.leaseMillis(), List.of()));
        }
        if (c.leaseMillis() != 0) {
          out.add(new ModelOp.CheckAndInsert(c.ids(), c.token(), 0, c.fingerprints()));
        }
        if (!c.token().isEmpty()) {
          out.add(new ModelOp.CheckAndInsert(c.ids(), "", c.leaseMillis(), c.fingerprints()));
        }
      }
      case ModelOp.Commit c -> {
        if (!c.results().isEmpty()) {
          out.add(new ModelOp.Commit(c.ids(), c.token(), List.of()));
        }
      }
      default -> { }
    }
    return out;
  }

  /** The op with one id (at {@code dropped}) left out, and its per-id values with it. */
  private static ModelOp withIds(ModelOp op, List<String> ids, int dropped) {
    return switch (op) {
      case ModelOp.CheckAndInsert c ->
          new ModelOp.CheckAndInsert(ids, c.token(), c.leaseMillis(), without(c.fingerprints(), dropped));
      case ModelOp.Check c -> new ModelOp.Check(ids);
      case ModelOp.Forget f -> new ModelOp.Forget(ids);
      case ModelOp.Commit c -> new ModelOp.Commit(ids, c.token(), without(c.results(), dropped));
      case ModelOp.Release r -> new ModelOp.Release(ids, r.token());
      case ModelOp.ExtendLease e -> new ModelOp.ExtendLease(ids, e.token(), e.leaseMillis());
    };
  }

  private static List<String> without(List<String> perId, int index) {
    if (perId.isEmpty()) {
      return perId;
    }
    List<String> fewer = new ArrayList<>(perId);
    fewer.remove(index);
    return fewer;
  }

  private static Scenario with(Scenario s, List<ModelRound> rounds) {
    return new Scenario(s.windowMillis(), s.startOffsetMillis(), rounds, s.reopenAtEnd());
  }

  private static Scenario replace(Scenario s, int index, ModelRound round) {
    List<ModelRound> rounds = new ArrayList<>(s.rounds());
    rounds.set(index, round);
    return with(s, rounds);
  }
}
