package dev.dedupe.server.it;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Every CheckAndInsert attempt the chaos load made, as its caller saw it, and the rules the
 * answers must keep whatever failed meanwhile. Judged from the recorded answers alone.
 */
final class ChaosHistory {

  /** What a call said about its id. */
  enum Outcome {
    NEW, DUPLICATE,
    /** The id's result said UNAVAILABLE: not answered; a round that timed out may still commit. */
    UNAVAILABLE,
    /** The call failed as a whole (deadline, connection): nothing is known of the id. */
    FAILED,
    /** IN_PROGRESS, CONFLICT or no verdict: never right for this load (no leases, no fingerprints). */
    OTHER;

    boolean definite() {
      return this == NEW || this == DUPLICATE;
    }
  }

  /** Why an op sent its id. */
  enum Kind {
    /** A new id, sent with one token only. */
    FRESH,
    /** An id sent by two tokens at once. */
    CONTESTED,
    /** An id acknowledged NEW before this op began, sent again with a new token. */
    REINSERT,
    /** Sent straight to a frozen leader, answered (or not) when it runs again. */
    ZOMBIE,
    /** The same id sent to the shard's new leader while its old leader was frozen. */
    AGAINST_ZOMBIE
  }

  /** One attempt: one call for one id with one token. Times are System.nanoTime(). */
  record Attempt(long op, Kind kind, int thread, String id, int shard, String token, int attemptNo,
      long startNanos, long endNanos, String target, Outcome outcome, boolean replay,
      String detail) {

    @Override
    public String toString() {
      return String.format("op %d %s thread %d attempt %d token %s to %s: %s%s (t=%d..%d ms)",
          op, kind, thread, attemptNo, token, target, outcome, replay ? " replay" : "",
          startNanos / 1_000_000, endNanos / 1_000_000)
          + (detail.isEmpty() ? "" : " [" + detail + "]");
    }
  }

  private final ConcurrentLinkedQueue<Attempt> attempts = new ConcurrentLinkedQueue<>();
  private final AtomicLong ops = new AtomicLong();
  private final AtomicLongArray definiteByShard;
  /** When each id was first acknowledged NEW (nanoTime), for the re-inserts and the final check. */
  private final Map<String, Long> ackedNew = new java.util.concurrent.ConcurrentHashMap<>();

  ChaosHistory(int shards) {
    this.definiteByShard = new AtomicLongArray(shards);
  }

  long newOp() {
    return ops.incrementAndGet();
  }

  void record(Attempt a) {
    attempts.add(a);
    if (a.outcome().definite()) {
      definiteByShard.incrementAndGet(a.shard());
    }
    if (a.outcome() == Outcome.NEW) {
      ackedNew.putIfAbsent(a.id(), a.endNanos());
    }
  }

  long definiteAnswers(int shard) {
    return definiteByShard.get(shard);
  }

  List<Attempt> attempts() {
    return List.copyOf(attempts);
  }

  /** Ids some call heard NEW for, each with the time of its first such answer. */
  Map<String, Long> ackedNew() {
    return Map.copyOf(ackedNew);
  }

  /**
   * For each of {@code shards}, how long after {@code faultNanos} the first definite answer came
   * to a call that started after it; a shard with none yet is left out.
   */
  Map<Integer, Long> firstAnswerAfter(long faultNanos, Set<Integer> shards) {
    Map<Integer, Long> out = new TreeMap<>();
    for (Attempt a : attempts) {
      if (a.outcome().definite() && shards.contains(a.shard()) && a.startNanos() >= faultNanos) {
        out.merge(a.shard(), a.endNanos() - faultNanos, Math::min);
      }
    }
    return out;
  }

  /**
   * The rules, over every attempt recorded so far. Returns one line per violation, each with
   * the id's whole history; empty when all hold.
   *
   * <ol>
   *   <li>Per id, at most one attempt token ever hears NEW.
   *   <li>NEW with replay=true only for a token that sent the id before (a retry).
   *   <li>DUPLICATE for token T only if another token may have recorded the id first: one heard
   *       NEW, or sent it in an attempt with no definite answer that began before this answer.
   *       A retry whose reply was lost thus never hears a false DUPLICATE for its own token.
   *   <li>An id acknowledged NEW is never NEW again for another token (a re-insert).
   *   <li>Of two tokens that raced for an id and both got a definite answer, exactly one heard NEW.
   *   <li>No IN_PROGRESS, CONFLICT or empty verdict (no leases, no fingerprints in this load).
   * </ol>
   */
  List<String> violations() {
    Map<String, List<Attempt>> byId = new HashMap<>();
    for (Attempt a : attempts) {
      byId.computeIfAbsent(a.id(), k -> new ArrayList<>()).add(a);
    }
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, List<Attempt>> e : byId.entrySet()) {
      List<Attempt> history = e.getValue();
      history.sort(Comparator.comparingLong(Attempt::startNanos));
      List<String> broken = new ArrayList<>();
      Set<String> newTokens = new LinkedHashSet<>();
      for (Attempt a : history) {
        if (a.outcome() == Outcome.NEW) {
          newTokens.add(a.token());
        }
        if (a.outcome() == Outcome.OTHER) {
          broken.add("answer that is neither NEW nor DUPLICATE: " + a);
        }
      }
      if (newTokens.size() > 1) {
        broken.add("NEW for " + newTokens.size() + " different attempt tokens " + newTokens);
      }
      for (Attempt a : history) {
        if (a.outcome() == Outcome.NEW && a.replay()) {
          boolean sentBefore = history.stream().anyMatch(b -> b != a
              && b.token().equals(a.token()) && b.startNanos() < a.startNanos());
          if (!sentBefore) {
            broken.add("NEW replay=true for a token that never sent the id before: " + a);
          }
        }
        if (a.outcome() == Outcome.DUPLICATE) {
          boolean othersMay = history.stream().anyMatch(b -> !b.token().equals(a.token())
              && (b.outcome() == Outcome.NEW
                  || (!b.outcome().definite() && b.startNanos() < a.endNanos())));
          if (!othersMay) {
            broken.add("false DUPLICATE: no other token can have recorded the id: " + a);
          }
        }
        if (a.kind() == Kind.REINSERT && a.outcome() == Outcome.NEW) {
          broken.add("an id acknowledged NEW earlier was NEW again for a new token: " + a);
        }
      }
      Map<Long, List<Attempt>> contested = new LinkedHashMap<>();
      for (Attempt a : history) {
        if (a.kind() == Kind.CONTESTED) {
          contested.computeIfAbsent(a.op(), k -> new ArrayList<>()).add(a);
        }
      }
      for (List<Attempt> race : contested.values()) {
        Map<String, Outcome> finalAnswer = new LinkedHashMap<>();
        for (Attempt a : race) {
          if (a.outcome().definite()) {
            finalAnswer.put(a.token(), a.outcome());
          }
        }
        if (finalAnswer.size() == 2
            && finalAnswer.values().stream().filter(o -> o == Outcome.NEW).count() != 1) {
          broken.add("two tokens raced and both were answered, but NEW went to "
              + finalAnswer.values().stream().filter(o -> o == Outcome.NEW).count()
              + " of them: " + finalAnswer);
        }
      }
      if (!broken.isEmpty()) {
        StringBuilder b = new StringBuilder("id ").append(e.getKey()).append(" (shard ")
            .append(history.get(0).shard()).append("): ").append(String.join("; ", broken))
            .append("\n    its attempts:");
        history.forEach(a -> b.append("\n      ").append(a));
        out.add(b.toString());
      }
    }
    return out;
  }

  /** The most common reasons calls got no definite answer, with counts, for the log. */
  Map<String, Long> reasons(int top) {
    Map<String, Long> c = new HashMap<>();
    for (Attempt a : attempts) {
      if (!a.outcome().definite()) {
        String why = a.detail().replaceAll("[0-9]+", "N");
        c.merge(a.outcome() + " " + why.substring(0, Math.min(90, why.length())), 1L, Long::sum);
      }
    }
    Map<String, Long> out = new LinkedHashMap<>();
    c.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(top)
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /** Counts by outcome, for the log. */
  Map<Outcome, Long> counts() {
    Map<Outcome, Long> c = new TreeMap<>();
    for (Attempt a : attempts) {
      c.merge(a.outcome(), 1L, Long::sum);
    }
    return c;
  }
}
