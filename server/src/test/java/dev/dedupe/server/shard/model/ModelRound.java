package dev.dedupe.server.shard.model;

import java.util.List;

/**
 * One group-commit round: the clock moves by {@code stepMillis}, then every op is submitted
 * while the writer is held, so the writer decides them all in one round, in this order.
 */
public record ModelRound(long stepMillis, List<ModelOp> ops) {

  @Override
  public String toString() {
    return "after +" + ModelOp.seconds(stepMillis) + ": " + ops;
  }
}
