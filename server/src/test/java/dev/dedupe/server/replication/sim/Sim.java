package dev.dedupe.server.replication.sim;

import java.util.ArrayDeque;
import java.util.PriorityQueue;
import java.util.Random;

/**
 * The simulation's one clock, one random source and one event queue. Time is in global
 * milliseconds; ties run in the order they were scheduled, so one seed decides everything.
 */
public final class Sim {

  private record Event(long time, long order, Runnable action) {}

  public final Random random;
  private final PriorityQueue<Event> queue = new PriorityQueue<>((a, b) -> a.time != b.time
      ? Long.compare(a.time, b.time) : Long.compare(a.order, b.order));
  private long now;
  private long order;
  private long steps;
  private final ArrayDeque<String> trace;
  private final int traceLimit;

  public Sim(long seed, int traceLimit) {
    this.random = new Random(seed);
    this.traceLimit = traceLimit;
    this.trace = traceLimit > 0 ? new ArrayDeque<>(traceLimit) : null;
  }

  public long now() {
    return now;
  }

  public long steps() {
    return steps;
  }

  public void at(long time, Runnable action) {
    queue.add(new Event(Math.max(time, now), order++, action));
  }

  public void after(long delay, Runnable action) {
    at(now + delay, action);
  }

  /** Runs events up to {@code until}; false if the queue ran dry. */
  public boolean runUntil(long until) {
    while (!queue.isEmpty() && queue.peek().time <= until) {
      Event e = queue.poll();
      now = e.time;
      steps++;
      e.action.run();
    }
    if (now < until) {
      now = until;
    }
    return !queue.isEmpty();
  }

  public boolean tracing() {
    return trace != null;
  }

  /** Records an event for the trace of a failing seed (only when replaying one). */
  public void trace(String what) {
    if (trace == null) {
      return;
    }
    if (trace.size() == traceLimit) {
      trace.removeFirst();
    }
    trace.addLast(String.format("%6d %s", now, what));
  }

  public String traceText() {
    return trace == null ? "" : String.join("\n", trace);
  }

  // Seeded helpers.
  public int between(int lo, int hi) {
    return lo + random.nextInt(hi - lo + 1);
  }

  public boolean chance(double p) {
    return p > 0 && random.nextDouble() < p;
  }
}
