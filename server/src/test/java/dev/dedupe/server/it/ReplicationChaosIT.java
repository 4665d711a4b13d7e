package dev.dedupe.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.common.util.concurrent.ListenableFuture;
import dev.dedupe.replica.v1.PositionRequest;
import dev.dedupe.replica.v1.PositionResponse;
import dev.dedupe.replica.v1.ReplicaServiceGrpc;
import dev.dedupe.server.cluster.NodeRegistration;
import dev.dedupe.server.it.ChaosHistory.Attempt;
import dev.dedupe.server.it.ChaosHistory.Kind;
import dev.dedupe.server.it.ChaosHistory.Outcome;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckAndInsertResponse;
import dev.dedupe.v1.CheckRequest;
import dev.dedupe.v1.CheckResponse;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.Verdict;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Replicated shards under faults, with real processes: three node JVMs (replication factor 3,
 * at least 2 in sync), one ZooKeeper in this JVM, client threads sending CheckAndInsert to each
 * shard's leader and recording every answer ({@link ChaosLoad}, {@link ChaosHistory}).
 *
 * <p>The faults run in order on one cluster, each under load, each healed before the next (every
 * node back, every replica in sync): SIGKILL a leader; SIGSTOP a leader past its session and
 * SIGCONT it (a zombie: it must acknowledge nothing sent to it meanwhile); SIGKILL a node and
 * delete its data directory (its replicas are rebuilt and rejoin the in-sync sets); SIGKILL the
 * controller; stop ZooKeeper (every shard must go on answering) and restart it on the same
 * port; last, with no load, a follower
 * loses its disk while another replica is down (it may rejoin the in-sync set only rebuilt).
 * After each, the history must keep {@link ChaosHistory#violations the rules}, every id
 * acknowledged NEW must be DUPLICATE through the current leaders, and every shard's replicas
 * must reach the same log position.
 *
 * <p>Per fault it measures the client-visible unavailability of the shards it hit, those the
 * victim led and those it followed (a leader waits for an in-sync follower until it leaves the
 * set): from the fault to the first definite answer to a call sent after it. The run ends with
 * one line, {@code CHAOS unavailability ...}, with p50 and p99 over every fault and shard.
 *
 * <p>Node logs stay in {@code target/chaos-it/<run>/}; {@code -Dchaos.seed=N} repeats the load's
 * choices (not the timing).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ReplicationChaosIT {

  /** The nodes' {@code cluster.session-timeout.seconds}. */
  private static final int SESSION_TIMEOUT_SECONDS = 4;

  private static final String CLUSTER = "chaos";
  private static final int NODES = 3;
  private static final int SHARDS = 4;
  private static final int THREADS = 4;
  /** Definite answers per shard that show a shard serves under load. */
  private static final int PROGRESS = 10;
  private static final Duration FAILOVER = Duration.ofSeconds(60);
  private static final Duration HEAL = Duration.ofSeconds(120);

  /**
   * One measurement: a shard the fault hit, the victim's role in it (its leader, a follower,
   * or "all" for ZooKeeper), and how long its callers got no answer.
   */
  private record Sample(String fault, String role, int shard, long millis) {}

  private final long seed = Long.getLong("chaos.seed", System.nanoTime() % 1_000_000);
  private final ChaosHistory history = new ChaosHistory(SHARDS);
  private final List<Sample> samples = new ArrayList<>();
  private final List<String> notes = new ArrayList<>();
  private ProcessCluster cluster;
  private Path logDir;
  private LeaderRouter router;

  // ------------------------------------------------------------------------------ lifecycle

  @BeforeAll
  void startCluster() throws Exception {
    String run = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
    cluster = ProcessCluster.start(CLUSTER, NODES, SHARDS, List.of(
        "storage.disk-budget.bytes=1GiB",
        "storage.maintenance.interval.seconds=3600",
        "cluster.session-timeout.seconds=" + SESSION_TIMEOUT_SECONDS,
        "cluster.replication-factor=3",
        "cluster.min-insync-replicas=2",
        "cluster.replica-lag-max.ms=2000",
        "cluster.replication-timeout.ms=2000"), Path.of("target", "chaos-it", run));
    logDir = cluster.logDir();
    say("seed " + seed + " (-Dchaos.seed=" + seed + " repeats the load's choices); node logs in "
        + logDir);
    router = new LeaderRouter(ChaosLoad.NAMESPACE, SHARDS, cluster::liveAddresses);
    awaitHealthy("the cluster forms");
  }

  @AfterAll
  void stopCluster() throws IOException {
    try {
      printSummary();
    } finally {
      if (router != null) {
        router.close();
      }
      if (cluster != null) {
        cluster.close();
      }
    }
  }

  // --------------------------------------------------------------------------------- faults

  @Test
  @Order(1)
  void sigkillALeaderMidLoad() throws Exception {
    String fault = "kill-leader";
    awaitHealthy(fault + ": before the fault");
    try (ChaosLoad load = startLoad(fault)) {
      Map<Integer, ShardState> states = states();
      int victim = busiestLeader(states, controllerIndex());
      Set<Integer> hit = ledBy(states, victim);
      say(fault + ": SIGKILL node-" + victim + ", leader of shards " + hit);
      kill(victim);
      long t0 = System.nanoTime(); // the process is gone now
      awaitFailover(fault, victim, hit, t0);
      measure(fault, hit, t0);
      measureFollowed(fault, states, victim, t0);
      startNode(victim);
      awaitHealthy(fault + ": node-" + victim + " restarted on its data and back in sync");
      finish(fault, load);
    }
  }

  @Test
  @Order(2)
  void sigstopALeaderPastItsSessionThenSigcont() throws Exception {
    String fault = "pause-leader";
    awaitHealthy(fault + ": before the fault");
    try (ChaosLoad load = startLoad(fault)) {
      Map<Integer, ShardState> states = states();
      int victim = busiestLeader(states, controllerIndex());
      Set<Integer> hit = ledBy(states, victim);
      String address = address(victim);
      // A connection made before the pause: what a client with an old map holds.
      router.stub(address).withDeadlineAfter(10, TimeUnit.SECONDS)
          .getShardMap(GetShardMapRequest.getDefaultInstance());
      say(fault + ": SIGSTOP node-" + victim + ", leader of shards " + hit);
      cluster.pause(victim);
      long t0 = System.nanoTime(); // kill(1) has returned: the process is stopped

      // Sent to the frozen leader: they wait in its socket and are read when it runs again.
      Map<String, ListenableFuture<CheckAndInsertResponse>> toZombie = new LinkedHashMap<>();
      Map<String, Long> sentAt = new HashMap<>();
      for (int s : hit) {
        for (String id : idsOfShard(s, "zombie-" + s + "-", 3)) {
          sentAt.put(id, System.nanoTime());
          toZombie.put(id, DedupeServiceGrpc.newFutureStub(router.channel(address))
              .withDeadlineAfter(120, TimeUnit.SECONDS)
              .checkAndInsert(CheckAndInsertRequest.newBuilder()
                  .setNamespace(ChaosLoad.NAMESPACE).addMessageIds(id)
                  .setAttemptToken("zombie-token-" + id).build()));
        }
      }
      String victimId = "node-" + victim;
      awaitCondition(fault + ": ZooKeeper expires node-" + victim + "'s session", FAILOVER,
          () -> registrations() != null && !registrations().containsKey(victimId));
      awaitFailover(fault, victim, hit, t0);
      measure(fault, hit, t0);
      measureFollowed(fault, states, victim, t0);

      // The new leaders have not seen the ids the zombie holds: each is NEW for another token.
      for (String id : toZombie.keySet()) {
        long op = history.newOp();
        Outcome o = load.runOp(Kind.AGAINST_ZOMBIE, -1, op, id, "leader-token-" + id,
            deadline(FAILOVER));
        assertEquals(Outcome.NEW, o, id + " through the new leader, while node-" + victim
            + " is frozen with it unread");
      }

      say(fault + ": SIGCONT node-" + victim);
      cluster.resume(victim);
      List<Attempt> zombieAnswers = new ArrayList<>();
      for (Map.Entry<String, ListenableFuture<CheckAndInsertResponse>> e : toZombie.entrySet()) {
        String id = e.getKey();
        int shard = router.shardOf(id);
        Attempt a;
        try {
          IdResult r = e.getValue().get(150, TimeUnit.SECONDS).getResults(0);
          a = ChaosLoad.attempt(Kind.ZOMBIE, -1, history.newOp(), id, shard, "zombie-token-" + id,
              1, sentAt.get(id), address, r, router);
        } catch (ExecutionException failed) {
          a = new Attempt(history.newOp(), Kind.ZOMBIE, -1, id, shard, "zombie-token-" + id, 1,
              sentAt.get(id), System.nanoTime(), address, Outcome.FAILED, false,
              String.valueOf(failed.getCause()));
        }
        history.record(a);
        zombieAnswers.add(a);
      }
      say(fault + ": what the zombie answered: " + zombieAnswers.stream()
          .map(a -> a.outcome() + (a.detail().isEmpty() ? "" : " (" + a.detail() + ")"))
          .distinct().toList());
      for (Attempt a : zombieAnswers) {
        assertNotEquals(Outcome.NEW, a.outcome(), "the zombie acknowledged " + a
            + "\nsee " + logOf(victim));
      }
      awaitHealthy(fault + ": node-" + victim + " running again and back in sync");
      finish(fault, load);
    }
  }

  @Test
  @Order(3)
  void sigkillANodeAndLoseItsDisk() throws Exception {
    String fault = "lost-disk";
    awaitHealthy(fault + ": before the fault");
    try (ChaosLoad load = startLoad(fault)) {
      Map<Integer, ShardState> states = states();
      int victim = busiestLeader(states, controllerIndex());
      String victimId = "node-" + victim;
      Set<Integer> hit = ledBy(states, victim);
      Map<Integer, String> oldStores = registrations().get(victimId).stores();
      Map<Path, Long> logsBefore = logSizes();
      say(fault + ": SIGKILL node-" + victim + " (leader of shards " + hit
          + ") and delete its data directory");
      kill(victim);
      long t0 = System.nanoTime(); // the process is gone now
      deleteRecursively(cluster.dataDir(victim));
      awaitFailover(fault, victim, hit, t0);
      measure(fault, hit, t0);
      measureFollowed(fault, states, victim, t0);
      startNode(victim);
      awaitHealthy(fault + ": node-" + victim + " rebuilt and back in sync");
      Map<Integer, String> newStores = registrations().get(victimId).stores();
      for (int s = 0; s < SHARDS; s++) {
        assertNotEquals(oldStores.get(s), newStores.get(s),
            "shard " + s + " on node-" + victim + ": a new store after the disk was lost");
      }
      Set<Integer> bySnapshot = new TreeSet<>();
      // The leaders log an install a moment after the follower is back in sync in ZooKeeper
      // (their log is another process's output): wait for the lines, within the heal time.
      try {
        awaitCondition(fault + ": the leaders log node-" + victim + "'s installs", HEAL, () -> {
          bySnapshot.clear();
          for (String line : logLinesSinceQuietly(logsBefore)) {
            for (int s = 0; s < SHARDS; s++) {
              if (line.contains("shard " + s + ": " + victimId + " installed the snapshot")) {
                bySnapshot.add(s);
              }
            }
          }
          return bySnapshot.containsAll(hit);
        });
      } catch (AssertionError timedOut) {
        // Reported below with what was found.
      }
      say(fault + ": node-" + victim + " rebuilt, in sync with new stores; by snapshot: shards "
          + bySnapshot + " (a leader that has led since the cluster formed may resend its whole"
          + " log instead)");
      // The shards it led got new leaders, whose logs in memory start at their own first entry:
      // an empty replica can only be rebuilt from a snapshot there.
      assertTrue(bySnapshot.containsAll(hit), "shards " + hit + " should have been rebuilt on"
          + " node-" + victim + " from a snapshot; were " + bySnapshot + " (see " + logDir + ")");
      finish(fault, load);
    }
  }

  @Test
  @Order(4)
  void sigkillTheController() throws Exception {
    String fault = "kill-controller";
    awaitHealthy(fault + ": before the fault");
    try (ChaosLoad load = startLoad(fault)) {
      Map<Integer, ShardState> states = states();
      int victim = controllerIndex();
      long epochBefore = controllerEpoch();
      Set<Integer> hit = ledBy(states, victim);
      say(fault + ": SIGKILL node-" + victim + ", the controller at epoch " + epochBefore
          + ", leader of shards " + hit);
      kill(victim);
      long t0 = System.nanoTime(); // the process is gone now
      awaitCondition(fault + ": another node is elected controller", FAILOVER, () -> {
        long e = controllerEpoch();
        int c = controllerIndex();
        return e > epochBefore && c >= 0 && c != victim;
      });
      awaitFailover(fault, victim, hit, t0);
      measure(fault, hit, t0);
      measureFollowed(fault, states, victim, t0);
      if (hit.isEmpty()) {
        notes.add(fault + ": the controller led no shard; nothing to measure");
      }
      startNode(victim);
      awaitHealthy(fault + ": node-" + victim + " restarted and back in sync");
      finish(fault, load);
    }
  }

  @Test
  @Order(5)
  void restartZooKeeperUnderLoad() throws Exception {
    String fault = "zk-restart";
    awaitHealthy(fault + ": before the fault");
    // A leadership handover under way when ZooKeeper stops cannot finish, and its old leader
    // may not resume without a ZooKeeper write: that shard waits out the outage (the outage
    // rule: nothing changes meanwhile). The controller hands leaderships back to preferred
    // replicas after the last stage's restart; let that end before the stop, as an operator
    // would let a restart settle.
    awaitCondition(fault + ": every shard led by its preferred replica, no handover under way",
        HEAL, () -> {
          Map<Integer, ShardState> st = states();
          return st != null && st.size() == SHARDS && st.values().stream()
              .allMatch(x -> x.hasLeader() && x.leader().equals(x.replicas().get(0)));
        });
    try (ChaosLoad load = startLoad(fault)) {
      Set<Integer> all = new TreeSet<>();
      for (int s = 0; s < SHARDS; s++) {
        all.add(s);
      }
      say(fault + ": stopping ZooKeeper");
      cluster.stopZooKeeper();
      long t0 = System.nanoTime();
      // Leaders serve on while ZooKeeper is down (their followers vouch for their epoch): every
      // shard answers calls sent a whole session timeout after the stop, when every node has
      // long noticed (its session lease has run out).
      long noticed = t0 + TimeUnit.SECONDS.toNanos(SESSION_TIMEOUT_SECONDS);
      awaitCondition(fault + ": every shard answers with ZooKeeper down", FAILOVER,
          () -> history.firstAnswerAfter(noticed, all).size() == SHARDS);
      long down = System.nanoTime();
      say(fault + ": every shard answered with ZooKeeper down for "
          + (down - t0) / 1_000_000 + " ms; restarting ZooKeeper on port " + cluster.zkPort());
      cluster.restartZooKeeper();
      long up = System.nanoTime();
      awaitCondition(fault + ": every shard answers again", FAILOVER,
          () -> history.firstAnswerAfter(up, all).size() == SHARDS);
      // From the stop: calls sent while ZooKeeper is down are answered too.
      measure(fault, "all", all, t0, t0);
      notes.add(fault + ": from ZooKeeper's restart to the first answer per shard (ms): "
          + history.firstAnswerAfter(up, all).entrySet().stream()
              .map(e -> "shard " + e.getKey() + " " + e.getValue() / 1_000_000).toList());
      awaitHealthy(fault + ": the cluster after ZooKeeper's restart");
      finish(fault, load);
    }
  }

  /**
   * A follower loses its disk while another replica is down, on a shard with no writes
   * meanwhile, so the follower's last acknowledgement before its crash still equals the commit
   * index. The leader must not count that acknowledgement once the follower is gone: it may
   * not put the dead follower back in the in-sync set (with the store it had), nor, when it
   * returns empty, with the empty store it opened. It rejoins only rebuilt (a snapshot, whose
   * store has an identity of its own). A member in sync with an empty store could be elected
   * and have every other replica rebuilt from it: every acknowledged id would be NEW again.
   */
  @Test
  @Order(6)
  void aFollowerLosesItsDiskWhileAnotherReplicaIsDown() throws Exception {
    String fault = "lost-disk-below-min-isr";
    awaitHealthy(fault + ": before the fault");
    ChaosLoad writer = new ChaosLoad(router, history, fault, seed, 0);
    int s = 0;
    List<String> ids = idsOfShard(s, fault + "-", 2_000);
    int[] next = {0};
    BooleanSupplier writeOne = () -> {
      String id = ids.get(next[0]++);
      return writer.runOp(Kind.FRESH, -1, history.newOp(), id, fault + "-t-" + id, once())
          == Outcome.NEW;
    };

    // The shard's leader goes first (it stays down): a follower takes over at a new epoch.
    // The emptied replica then comes back to a leader that must rebuild it, by a snapshot or
    // by the whole log if it still holds it, before it counts as in sync.
    awaitCondition(fault + ": shard " + s + " takes writes", FAILOVER, writeOne);
    ShardState before = states().get(s);
    int down = index(before.leader());
    say(fault + ": SIGKILL node-" + down + ", leader of shard " + s + "; it stays down");
    kill(down);
    awaitCondition(fault + ": another node leads shard " + s + " and takes writes", FAILOVER,
        () -> {
          ShardState now = states() == null ? null : states().get(s);
          return now != null && now.hasLeader() && !now.isLeader("node-" + down)
              && now.isr().size() >= 2 && writeOne.getAsBoolean();
        });
    ShardState led = states().get(s);
    int leader = index(led.leader());
    int emptied = led.followers().stream().map(ReplicationChaosIT::index)
        .filter(i -> i != down).findFirst().orElseThrow();
    String emptiedId = "node-" + emptied;
    String oldStore = led.isr().get(emptiedId);
    assertTrue(oldStore != null && oldStore.equals(registrations().get(emptiedId).stores().get(s)),
        "shard " + s + ": " + emptiedId + " in sync with its open store: " + led);

    // Now no writes: the follower's acknowledgement stays equal to the commit index.
    Map<Path, Long> logsAtCrash = logSizes();
    say(fault + ": shard " + s + " led by node-" + leader + " at epoch " + led.epoch()
        + " in sync with " + led.isr().keySet() + "; SIGKILL " + emptiedId
        + " and delete its data");
    kill(emptied);
    deleteRecursively(cluster.dataDir(emptied));
    awaitCondition(fault + ": ZooKeeper expires " + emptiedId + "'s session", FAILOVER,
        () -> registrations() != null && !registrations().containsKey(emptiedId));
    // The controller drops the departed follower from the in-sync set; give the leader a
    // chance to (wrongly) put it back before it returns.
    awaitCondition(fault + ": the controller drops " + emptiedId + " from shard " + s
        + "'s in-sync set", FAILOVER, () -> logLinesSinceQuietly(logsAtCrash).stream()
            .anyMatch(l -> l.contains("Controller") && l.contains("shard " + s + ":"))
            || (isr(s) != null && !isr(s).containsKey(emptiedId)));
    startNode(emptied);
    // The store it registers first is its empty one; a snapshot install may already have
    // replaced it by the time a poll reads the registration, so the store it rejoins with is
    // judged by the install that made it, not by comparing with a registration read.
    String[] firstStore = {null};
    awaitCondition(fault + ": " + emptiedId + " registers a store for shard " + s, HEAL, () -> {
      Map<String, NodeRegistration> r = registrations();
      if (r != null && r.containsKey(emptiedId) && r.get(emptiedId).stores().containsKey(s)) {
        firstStore[0] = r.get(emptiedId).stores().get(s);
        return true;
      }
      return false;
    });
    say(fault + ": " + emptiedId + " is back (store " + firstStore[0] + " registered first);"
        + " writing to shard " + s + " so that its leader sends it entries");

    // Each write needs a second in-sync member: it fails UNAVAILABLE until the follower is
    // rebuilt and back in sync.
    Set<String> seenIsr = new java.util.LinkedHashSet<>();
    awaitCondition(fault + ": " + emptiedId + " rebuilt and back in shard " + s
        + "'s in-sync set", HEAL, () -> {
          Map<String, String> isr = isr(s);
          Map<String, NodeRegistration> regs = registrations();
          if (isr != null) {
            seenIsr.add(isr.toString());
          }
          if (isr != null && regs != null && regs.containsKey(emptiedId)
              && isr.containsKey(emptiedId)
              && isr.get(emptiedId).equals(regs.get(emptiedId).stores().get(s))) {
            return true;
          }
          writeOne.getAsBoolean();
          return false;
        });
    String rejoined = isr(s).get(emptiedId);
    say(fault + ": " + emptiedId + " back in sync with store " + rejoined + "; in-sync sets"
        + " seen meanwhile: " + seenIsr);
    // A store may join only once rebuilt: by a snapshot install (which names the store it
    // made), or by the leader sending it the whole log from its first entry (possible when the
    // leader still holds the shard's whole log in memory; it names the store it sends to).
    // Store ids are random UUIDs, so a line naming one names that store on whichever node.
    java.util.regex.Pattern installLine = java.util.regex.Pattern.compile(
        "shard " + s + ": installed a snapshot .* as store (\\S+)");
    java.util.regex.Pattern replayLine = java.util.regex.Pattern.compile(
        "shard " + s + ": follower " + emptiedId + " \\(store ([^)]+)\\) is at .*; sending"
            + " entries from 1$");
    java.util.function.Function<List<String>, Set<String>> rebuiltStores = lines -> {
      Set<String> out = new java.util.HashSet<>();
      for (String l : lines) {
        for (java.util.regex.Pattern p : List.of(installLine, replayLine)) {
          java.util.regex.Matcher m = p.matcher(l);
          if (m.find()) {
            out.add(m.group(1));
          }
        }
      }
      return out;
    };
    awaitCondition(fault + ": the rebuild of store " + rejoined + " is in the logs", HEAL,
        () -> rebuiltStores.apply(logLinesSinceQuietly(logsAtCrash)).contains(rejoined));
    List<String> lines = logLinesSince(logsAtCrash);
    Set<String> rebuilt = rebuiltStores.apply(lines);
    java.util.regex.Pattern joinLine = java.util.regex.Pattern.compile(
        "shard " + s + ": .*adding " + emptiedId + " \\(caught up, store ([^)]+)\\)");
    List<String> evidence = lines.stream()
        .filter(l -> l.contains("shard " + s + ":") && l.contains(emptiedId)).toList();
    // A join with its lost store (on an old acknowledgement) or with the empty store it came
    // back with, before a rebuild, would put a replica missing acknowledged ids in sync.
    List<String> wrong = evidence.stream().filter(l -> {
      java.util.regex.Matcher m = joinLine.matcher(l);
      return m.find() && !rebuilt.contains(m.group(1));
    }).toList();
    assertTrue(wrong.isEmpty() && !rejoined.equals(oldStore),
        "shard " + s + ": the leader put " + emptiedId + " in the in-sync set with a store"
            + " neither installed nor sent the whole log (its lost store was " + oldStore
            + ", rebuilt stores " + rebuilt + "; seed " + seed + ", logs in " + logDir + "):\n"
            + String.join("\n", wrong) + "\nall lines of shard " + s + " naming " + emptiedId
            + ":\n" + String.join("\n", evidence));

    startNode(down);
    try (ChaosLoad load = new ChaosLoad(router, history, fault + "-heal", seed, 2)) {
      load.start();
      awaitHealthy(fault + ": node-" + down + " back, every replica in sync");
      finish(fault, load);
    }
  }

  private static int index(String nodeId) {
    return Integer.parseInt(nodeId.substring("node-".length()));
  }

  /** A shard's in-sync set in ZooKeeper, or null. */
  private Map<String, String> isr(int shard) {
    Map<Integer, ShardState> st = states();
    return st == null ? null : st.get(shard).isr();
  }

  // ---------------------------------------------------------------------------- the checks

  private ChaosLoad startLoad(String fault) {
    ChaosLoad load = new ChaosLoad(router, history, fault, seed, THREADS);
    load.start();
    awaitProgress(fault + ": every shard answers under load", load);
    return load;
  }

  /** Every shard answers again under load, the load stops, and the run so far is judged. */
  private void finish(String fault, ChaosLoad load) {
    awaitProgress(fault + ": every shard answers after healing", load);
    load.stop();
    List<String> broken = history.violations();
    if (!broken.isEmpty()) {
      fail(fault + ": " + broken.size() + " ids broke the rules (seed " + seed + ", logs in "
          + logDir + "):\n" + String.join("\n", broken.subList(0, Math.min(20, broken.size()))));
    }
    verifyAckedAreDuplicate(fault);
    awaitReplicasIdentical(fault);
    say(fault + ": history holds (" + history.counts() + "); every id acknowledged NEW is"
        + " DUPLICATE through the leaders; every shard's replicas are at one position;"
        + " commonest non-answers so far: " + history.reasons(4));
  }

  /** Asks the leaders (Check) about every id ever acknowledged NEW: each must be DUPLICATE. */
  private void verifyAckedAreDuplicate(String fault) {
    Map<String, Long> acked = history.ackedNew();
    Map<Integer, List<String>> byShard = new TreeMap<>();
    acked.keySet().forEach(id -> byShard.computeIfAbsent(router.shardOf(id), s -> new ArrayList<>())
        .add(id));
    List<String> lost = new ArrayList<>();
    for (Map.Entry<Integer, List<String>> e : byShard.entrySet()) {
      int shard = e.getKey();
      List<String> left = new ArrayList<>(e.getValue());
      long deadline = System.nanoTime() + FAILOVER.toNanos();
      while (!left.isEmpty()) {
        if (System.nanoTime() > deadline) {
          fail(fault + ": shard " + shard + "'s leader did not answer Check for " + left.size()
              + " ids within " + FAILOVER);
        }
        router.refresh();
        String address = router.owner(shard).address();
        if (address.isEmpty()) {
          ServerProcess.pause(Duration.ofMillis(100));
          continue;
        }
        List<String> batch = left.subList(0, Math.min(500, left.size()));
        CheckResponse reply;
        try {
          reply = router.stub(address).withDeadlineAfter(10, TimeUnit.SECONDS).check(
              CheckRequest.newBuilder().setNamespace(ChaosLoad.NAMESPACE).addAllMessageIds(batch)
                  .build());
        } catch (StatusRuntimeException failed) {
          ServerProcess.pause(Duration.ofMillis(100));
          continue;
        }
        List<String> retry = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
          IdResult r = reply.getResults(i);
          if (r.hasStatus() && r.getStatus().getCode() != 0) {
            retry.add(batch.get(i));
          } else if (r.getVerdict() != Verdict.VERDICT_DUPLICATE) {
            lost.add(batch.get(i) + " (shard " + shard + ", Check says " + r.getVerdict()
                + " at " + address + ")");
          }
        }
        List<String> rest = new ArrayList<>(retry);
        rest.addAll(left.subList(batch.size(), left.size()));
        left = rest;
        if (!retry.isEmpty()) {
          ServerProcess.pause(Duration.ofMillis(100));
        }
      }
    }
    if (!lost.isEmpty()) {
      StringBuilder b = new StringBuilder();
      for (String l : lost.subList(0, Math.min(10, lost.size()))) {
        String id = l.substring(0, l.indexOf(' '));
        b.append("\n  ").append(l);
        history.attempts().stream().filter(a -> a.id().equals(id))
            .forEach(a -> b.append("\n      ").append(a));
      }
      fail(fault + ": " + lost.size() + " of " + acked.size() + " ids acknowledged NEW are not"
          + " DUPLICATE any more (seed " + seed + ", logs in " + logDir + "):" + b);
    }
  }

  /**
   * With the load stopped, every shard's replicas reach one log position (two replicas at one
   * position hold the same data), each from the store it is in sync with.
   */
  private void awaitReplicasIdentical(String fault) {
    awaitCondition(fault + ": every shard's replicas at one log position", HEAL, () -> {
      Map<String, NodeRegistration> regs = registrations();
      if (regs == null) {
        return false;
      }
      for (int s = 0; s < SHARDS; s++) {
        Set<String> positions = new HashSet<>();
        for (int i = 0; i < NODES; i++) {
          NodeRegistration r = regs.get("node-" + i);
          if (r == null || r.replication().isEmpty()) {
            return false;
          }
          try {
            PositionResponse p = ReplicaServiceGrpc.newBlockingStub(router.channel(r.replication()))
                .withDeadlineAfter(2, TimeUnit.SECONDS)
                .position(PositionRequest.newBuilder().setShard(s).build());
            if (!p.getHeld() || !p.getStoreId().equals(r.stores().get(s))) {
              return false;
            }
            positions.add(p.getPosition().getEpoch() + ":" + p.getPosition().getSeq());
          } catch (StatusRuntimeException e) {
            return false;
          }
        }
        if (positions.size() != 1) {
          return false;
        }
      }
      return true;
    });
  }

  /** Until every shard has {@link #PROGRESS} more definite answers. */
  private void awaitProgress(String what, ChaosLoad load) {
    long[] before = new long[SHARDS];
    for (int s = 0; s < SHARDS; s++) {
      before[s] = history.definiteAnswers(s);
    }
    awaitCondition(what, HEAL, () -> {
      for (int s = 0; s < SHARDS; s++) {
        if (history.definiteAnswers(s) < before[s] + PROGRESS) {
          return false;
        }
      }
      return true;
    });
  }

  /**
   * Until each shard {@code victim} led has another leader in ZooKeeper and has answered a call
   * sent after {@code t0}.
   */
  private void awaitFailover(String fault, int victim, Set<Integer> hit, long t0) {
    String victimId = "node-" + victim;
    awaitCondition(fault + ": shards " + hit + " led elsewhere and answering", FAILOVER, () -> {
      Map<Integer, ShardState> now = states();
      if (now == null) {
        return false;
      }
      for (int s : hit) {
        if (!now.get(s).hasLeader() || now.get(s).isLeader(victimId)) {
          return false;
        }
      }
      return history.firstAnswerAfter(t0, hit).size() == hit.size();
    });
  }

  /**
   * Records, per shard of {@code hit}, the time from {@code t0} to the first definite answer to
   * a call sent after {@code from} (the fault, or when it took effect).
   */
  private void measure(String fault, String role, Set<Integer> hit, long t0, long from) {
    Map<Integer, Long> first = history.firstAnswerAfter(from, hit);
    List<String> parts = new ArrayList<>();
    first.forEach((shard, nanos) -> {
      long ms = (nanos + from - t0) / 1_000_000;
      samples.add(new Sample(fault, role, shard, ms));
      parts.add("shard " + shard + " " + ms + " ms");
    });
    say(fault + ": unavailable (shards it " + role + "), fault to first answer: " + parts);
  }

  private void measure(String fault, Set<Integer> led, long t0) {
    measure(fault, "led", led, t0, t0);
  }

  /** The shards {@code victim} followed, their first answers awaited and measured. */
  private void measureFollowed(String fault, Map<Integer, ShardState> before, int victim,
      long t0) {
    Set<Integer> followed = new TreeSet<>();
    before.forEach((s, st) -> {
      if (st.replicas().contains("node-" + victim) && !st.isLeader("node-" + victim)) {
        followed.add(s);
      }
    });
    awaitCondition(fault + ": shards " + followed + " that node-" + victim + " followed answer",
        FAILOVER, () -> history.firstAnswerAfter(t0, followed).size() == followed.size());
    measure(fault, "followed", followed, t0, t0);
  }

  /**
   * Every node running and serving, and in ZooKeeper every shard led, with all replicas in
   * sync, each with the store its node has open now ({@link ProcessCluster#healthy}).
   */
  private void awaitHealthy(String what) {
    awaitCondition(what + ": every node serving, every replica in sync", HEAL,
        () -> java.util.stream.IntStream.range(0, NODES).allMatch(cluster::running)
            && cluster.healthy());
    router.refresh();
  }

  // ------------------------------------------------------------------------------- helpers

  private void startNode(int i) {
    cluster.startNode(i);
  }

  private void kill(int i) {
    cluster.kill(i);
  }

  private String address(int i) {
    return cluster.address(i);
  }

  private Map<Integer, ShardState> states() {
    return cluster.states();
  }

  private Map<String, NodeRegistration> registrations() {
    return cluster.registrations();
  }

  private int controllerIndex() {
    return cluster.controllerIndex();
  }

  private long controllerEpoch() {
    return cluster.controllerEpoch();
  }

  private static Set<Integer> ledBy(Map<Integer, ShardState> states, int node) {
    Set<Integer> out = new TreeSet<>();
    states.forEach((s, st) -> {
      if (st.isLeader("node-" + node)) {
        out.add(s);
      }
    });
    return out;
  }

  /** The node leading the most shards, other than {@code avoid} when another leads any. */
  private static int busiestLeader(Map<Integer, ShardState> states, int avoid) {
    return java.util.stream.IntStream.range(0, NODES).boxed()
        .filter(i -> i != avoid && !ledBy(states, i).isEmpty())
        .max(Comparator.comparingInt((Integer i) -> ledBy(states, i).size())
            .thenComparing(i -> -i))
        .orElse(avoid);
  }

  /** {@code n} ids that hash to {@code shard}. */
  private List<String> idsOfShard(int shard, String prefix, int n) {
    List<String> out = new ArrayList<>();
    for (int k = 0; out.size() < n; k++) {
      if (router.shardOf(prefix + k) == shard) {
        out.add(prefix + k);
      }
    }
    return out;
  }

  /** True once, then false: one attempt. */
  private static BooleanSupplier once() {
    java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);
    return () -> first.getAndSet(false);
  }

  private static BooleanSupplier deadline(Duration d) {
    long end = System.nanoTime() + d.toNanos();
    return () -> System.nanoTime() < end;
  }

  private void awaitCondition(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("not within " + timeout + ": " + what + " (seed " + seed + ")\nshard states: "
            + states() + "\nnodes: " + registrations() + "\nlogs: " + logDir + "\n" + logTails());
      }
      ServerProcess.pause(Duration.ofMillis(100));
    }
  }

  private Path logOf(int i) {
    return cluster.logOf(i);
  }

  private String logTails() {
    return cluster.logTails();
  }

  private Map<Path, Long> logSizes() throws IOException {
    Map<Path, Long> sizes = new HashMap<>();
    try (Stream<Path> logs = Files.list(logDir)) {
      for (Path p : logs.toList()) {
        sizes.put(p, Files.size(p));
      }
    }
    return sizes;
  }

  private List<String> logLinesSinceQuietly(Map<Path, Long> before) {
    try {
      return logLinesSince(before);
    } catch (IOException e) {
      return List.of();
    }
  }

  /** Lines written to any node log since {@code before} was taken (new logs whole). */
  private List<String> logLinesSince(Map<Path, Long> before) throws IOException {
    List<String> out = new ArrayList<>();
    try (Stream<Path> logs = Files.list(logDir)) {
      for (Path p : logs.toList()) {
        byte[] all = Files.readAllBytes(p);
        int from = (int) Math.min(all.length, before.getOrDefault(p, 0L));
        out.addAll(new String(all, from, all.length - from, StandardCharsets.UTF_8).lines()
            .toList());
      }
    }
    return out;
  }

  private void printSummary() {
    List<Long> ms = samples.stream().map(Sample::millis).sorted().toList();
    StringBuilder line = new StringBuilder("CHAOS unavailability (ms, from the fault to the first"
        + " answer per hit shard) over " + ms.size() + " samples: ");
    if (ms.isEmpty()) {
      line.append("none measured");
    } else {
      line.append("p50=").append(percentile(ms, 50)).append(" p99=").append(percentile(ms, 99))
          .append(" max=").append(ms.get(ms.size() - 1));
    }
    for (String role : List.of("led", "followed")) {
      List<Long> r = samples.stream().filter(x -> x.role().equals(role)).map(Sample::millis)
          .sorted().toList();
      if (!r.isEmpty()) {
        line.append("; shards the victim ").append(role).append(": p50=")
            .append(percentile(r, 50)).append(" p99=").append(percentile(r, 99));
      }
    }
    Map<String, List<Long>> byFault = new LinkedHashMap<>();
    samples.forEach(x -> byFault.computeIfAbsent(x.fault() + "/" + x.role(), f -> new ArrayList<>())
        .add(x.millis()));
    line.append("; by fault ").append(byFault).append("; calls ").append(history.counts())
        .append("; seed ").append(seed);
    say(line.toString());
    notes.forEach(n -> say("note: " + n));
  }

  /** Nearest-rank percentile of sorted values. */
  private static long percentile(List<Long> sorted, int p) {
    int rank = (int) Math.ceil(p / 100.0 * sorted.size());
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
  }

  private static void say(String s) {
    System.out.println("[chaos " + LocalDateTime.now().format(DateTimeFormatter.ofPattern(
        "HH:mm:ss.SSS")) + "] " + s);
    System.out.flush();
  }

  private static void deleteRecursively(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    }
  }
}
