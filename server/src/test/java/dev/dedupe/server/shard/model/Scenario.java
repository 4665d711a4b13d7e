package dev.dedupe.server.shard.model;

import java.util.List;

/**
 * A generated run against one fresh namespace: its window, where in the first bucket it starts,
 * its rounds, and whether the store is closed and opened again from disk at the end (then every
 * id is checked once more).
 */
public record Scenario(
    long windowMillis, long startOffsetMillis, List<ModelRound> rounds, boolean reopenAtEnd) {

  public int opCount() {
    return rounds.stream().mapToInt(r -> r.ops().size()).sum();
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("window=" + ModelOp.seconds(windowMillis)
        + ", bucket width 60s, first round " + ModelOp.seconds(startOffsetMillis)
        + " into a bucket; " + rounds.size() + " rounds, " + opCount() + " requests:");
    for (int i = 0; i < rounds.size(); i++) {
      b.append("\n  round ").append(i + 1).append(' ').append(rounds.get(i));
    }
    return b.toString();
  }
}
