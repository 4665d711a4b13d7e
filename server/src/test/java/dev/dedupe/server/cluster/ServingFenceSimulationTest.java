package dev.dedupe.server.cluster;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A deterministic simulation of the fence under random interleavings of connection events,
 * cluster-state re-reads (each split into begin, read and finish, so events land between the
 * steps), heartbeats sent and answered late, and clock jumps (a GC pause or SIGSTOP is a jump).
 * One seed decides the whole schedule; a failure prints the seed and the steps that led to it.
 *
 * <p>Checked after every step, against a model of the ZooKeeper server that expires the session
 * one timeout after it last heard from the node:
 * <ul>
 *   <li>never serve unless connected and a re-read that began and ended under the current
 *       connection epoch has finished;
 *   <li>never serve when the server could have expired the session (the lease rule);
 *   <li>and, at the end of each schedule, a node that is connected, re-read and heard from
 *       does serve (the fence is not simply always shut).
 * </ul>
 */
class ServingFenceSimulationTest {

  private static final int SEEDS = 5_000;
  private static final int STEPS = 200;
  private static final long TIMEOUT_MILLIS = 6_000;
  private static final long TIMEOUT_NANOS = TIMEOUT_MILLIS * 1_000_000;

  /** Replays one schedule: {@code -Dfence.seed=N}; otherwise seeds 1 to {@link #SEEDS}. */
  @Test
  void theFenceNeverServesOutsideItsRuleUnderThousandsOfSchedules() {
    String one = System.getProperty("fence.seed");
    if (one != null) {
      new Schedule(Long.parseLong(one)).run();
      return;
    }
    for (long seed = 1; seed <= SEEDS; seed++) {
      new Schedule(seed).run();
    }
  }

  /** One simulated node, its fence, and the ZooKeeper server's view of its session. */
  private static final class Schedule {
    private final long seed;
    private final SplittableRandom random;
    private final List<String> trace = new ArrayList<>();
    private long now = 1_000_000_000L;
    private final ServingFence fence = new ServingFence(() -> now);

    // The model: what the rule says, kept independently of the fence's own state.
    private boolean connected;
    private long epoch;
    /** The epoch under which the last re-read finished cleanly, or -1. */
    private long caughtUpEpoch = -1;
    /** When the server last heard from the session; the session is gone once silent too long. */
    private long serverLastHeard = now;
    private boolean sessionExpired;

    /** Re-reads under way: the epoch each began at, and whether its read succeeded. */
    private final List<long[]> refreshes = new ArrayList<>();
    /** Heartbeats sent and not yet answered: when each was sent. */
    private final List<Long> heartbeats = new ArrayList<>();

    Schedule(long seed) {
      this.seed = seed;
      this.random = new SplittableRandom(seed);
    }

    void run() {
      for (int step = 0; step < STEPS; step++) {
        act();
        check();
      }
      // Liveness: reconnect, re-read, heartbeat; the node must serve.
      if (sessionExpired) {
        sessionExpired = false;          // a new session
        serverLastHeard = now;
      }
      connect();
      long began = fence.epoch();
      fence.caughtUp(began);
      caughtUpEpoch = epoch;
      heartbeats.add(now);
      answer(heartbeats.size() - 1, 0);
      check();
      if (!fence.mayServe()) {
        fail(failure("a connected, caught-up node with a fresh lease does not serve"));
      }
    }

    private void act() {
      int what = random.nextInt(100);
      if (what < 8) {
        trace.add("SUSPENDED/LOST");
        connected = false;
        epoch++;
        fence.disconnected();
      } else if (what < 16) {
        if (sessionExpired) {
          trace.add("new session");
          sessionExpired = false;
          serverLastHeard = now;
        }
        connect();
      } else if (what < 30) {
        trace.add("re-read begins at epoch " + fence.epoch());
        refreshes.add(new long[] {fence.epoch(), 0});
      } else if (what < 42 && !refreshes.isEmpty()) {
        long[] r = refreshes.get(random.nextInt(refreshes.size()));
        // A read succeeds only while connected and the session lives.
        r[1] = connected && !sessionExpired ? 1 : -1;
        trace.add("re-read from epoch " + r[0] + (r[1] == 1 ? " reads" : " fails to read"));
      } else if (what < 54 && !refreshes.isEmpty()) {
        long[] r = refreshes.remove(random.nextInt(refreshes.size()));
        if (r[1] == 1) {
          boolean took = fence.caughtUp(r[0]);
          trace.add("re-read from epoch " + r[0] + " finishes: caughtUp=" + took);
          if (r[0] == epoch && connected) {
            caughtUpEpoch = epoch;
          }
        } else {
          trace.add("re-read from epoch " + r[0] + " abandoned");
        }
      } else if (what < 70) {
        if (connected) {
          trace.add("heartbeat sent");
          heartbeats.add(now);
        } else {
          trace.add("heartbeat not sent: disconnected");
        }
      } else if (what < 84 && !heartbeats.isEmpty()) {
        answer(random.nextInt(heartbeats.size()), random.nextLong(TIMEOUT_NANOS / 2));
      } else {
        // Time passes; now and then a long pause (GC, SIGSTOP), longer than the timeout.
        long jump = random.nextInt(10) == 0
            ? TIMEOUT_NANOS + random.nextLong(TIMEOUT_NANOS)
            : random.nextLong(TIMEOUT_NANOS / 4);
        now += jump;
        trace.add("clock +" + jump / 1_000_000 + " ms");
      }
      if (!sessionExpired && now - serverLastHeard > TIMEOUT_NANOS) {
        sessionExpired = true;
        trace.add("(server expires the session)");
      }
    }

    private void connect() {
      trace.add("CONNECTED/RECONNECTED");
      connected = true;
      epoch++;
      fence.connected();
    }

    /**
     * The heartbeat at {@code index} reaches the server {@code delay} after it was sent and is
     * answered; a heartbeat on a dead session, or sent while disconnected, is never answered.
     */
    private void answer(int index, long delay) {
      long sent = heartbeats.remove(index);
      long heard = Math.min(now, sent + delay);
      if (sessionExpired || heard - serverLastHeard > TIMEOUT_NANOS) {
        trace.add("heartbeat sent at " + sent + " fails: session expired");
        sessionExpired = true;
        return;
      }
      serverLastHeard = Math.max(serverLastHeard, heard);
      trace.add("heartbeat sent at " + sent + " answered");
      fence.heartbeatAnswered(sent, TIMEOUT_MILLIS);
    }

    private void check() {
      if (!fence.mayServe()) {
        return;
      }
      if (!connected) {
        fail(failure("serving while disconnected"));
      }
      if (caughtUpEpoch != epoch) {
        fail(failure("serving without a re-read under the current connection (epoch " + epoch
            + ", last caught up at " + caughtUpEpoch + ")"));
      }
      if (sessionExpired || now - serverLastHeard > TIMEOUT_NANOS) {
        fail(failure("serving after the server could have expired the session"));
      }
      assertTrue(now - serverLastHeard <= TIMEOUT_NANOS);
    }

    private String failure(String what) {
      int from = Math.max(0, trace.size() - 40);
      return what + " (seed " + seed + "; replay: -Dfence.seed=" + seed + "; last steps:\n  "
          + String.join("\n  ", trace.subList(from, trace.size())) + ")";
    }
  }
}
