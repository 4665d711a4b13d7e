package dev.dedupe.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.replication.VersionedShardState;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.parallel.Isolated;
import org.slf4j.LoggerFactory;

/**
 * Controller election, formation, migration, shard leader elections and fencing, against a
 * real ZooKeeper server. Nodes here are registrations without storage: a test publishes the
 * stores a node would have open.
 */
@Isolated("reads or changes the global logging state")
@Timeout(60)
class ControllerTest {

  private static final ClusterPaths PATHS = ClusterPaths.forCluster("test");

  private TestingServer zookeeper;
  private final List<AutoCloseable> opened = new ArrayList<>();

  @BeforeEach
  void startZooKeeper() throws Exception {
    zookeeper = new TestingServer(true);
  }

  @AfterEach
  void stopAll() throws Exception {
    for (int i = opened.size() - 1; i >= 0; i--) {
      opened.get(i).close();
    }
    zookeeper.close();
  }

  /** One node's coordination pieces: its ZooKeeper client, registration and controller. */
  private record Member(String id, CuratorFramework zk, Membership membership,
      Controller controller) {}

  private Member join(String id, int shards, int initialNodes) {
    return join(id, shards, initialNodes, 1, "");
  }

  private Member join(String id, int shards, int initialNodes, int replicationFactor, String zone) {
    CuratorFramework zk = client();
    Membership membership = register(zk, id, zone);
    Controller controller =
        new Controller(zk, PATHS, id, shards, initialNodes, replicationFactor);
    controller.start();
    opened.add(controller);
    return new Member(id, zk, membership, controller);
  }

  private Membership register(CuratorFramework zk, String id, String zone) {
    Membership membership = new Membership(zk, PATHS, id,
        new NodeRegistration(id + ":50051", id + ":8081", id + ":50052", zone, Map.of()));
    membership.start(10_000);
    opened.add(membership);
    return membership;
  }

  @Test
  void replicasArePlacedOnDistinctNodesAndZonesOnceTheInitialNodesHaveJoined() throws Exception {
    Member a = join("node-a", 12, 4, 2, "zone-1");
    Member b = join("node-b", 12, 4, 2, "zone-1");
    await("a controller is elected", () -> a.controller().isLeader() || b.controller().isLeader());
    join("node-c", 12, 4, 2, "zone-2");
    Thread.sleep(500);
    assertEquals(Optional.empty(), read(a), "no shard states before the fourth node joins");

    join("node-d", 12, 4, 2, "zone-2");
    await("the shard states are written", () -> read(a).isPresent());
    ShardStates states = read(a).orElseThrow();
    assertEquals(12, states.shardCount());
    Map<String, String> zones = Map.of(
        "node-a", "zone-1", "node-b", "zone-1", "node-c", "zone-2", "node-d", "zone-2");
    for (ShardState s : states.states().values()) {
      assertEquals(2, s.replicas().size(), s.toString());
      assertEquals(2, s.replicas().stream().distinct().count(), "distinct nodes: " + s);
      assertEquals(2, s.replicas().stream().map(zones::get).distinct().count(),
          "distinct zones: " + s);
      assertEquals(s.replicas().get(0), s.leader(), "the preferred replica leads");
      assertEquals(1, s.epoch());
      assertEquals(Map.of(s.leader(), ""), s.isr(), "in sync alone, store not recorded yet");
    }
    Map<String, Long> perLeader = states.states().values().stream()
        .collect(Collectors.groupingBy(ShardState::leader, Collectors.counting()));
    assertEquals(Map.of("node-a", 3L, "node-b", 3L, "node-c", 3L, "node-d", 3L), perLeader,
        "leaders are spread evenly");
  }

  @Test
  void formationWaitsForReplicationFactorLiveNodes() throws Exception {
    ListAppender<ILoggingEvent> logs = capture(Controller.class);
    Member a = join("node-a", 4, 1, 2, "");
    await("the controller says what it waits for", () -> logs.list.stream().anyMatch(
        e -> e.getFormattedMessage().contains("cluster.replication-factor")));
    assertEquals(Optional.empty(), read(a), "one node cannot hold two replicas");
    join("node-b", 4, 1, 2, "");
    await("the shard states are written", () -> read(a).isPresent());
    assertTrue(read(a).orElseThrow().states().values().stream()
        .allMatch(s -> s.replicas().size() == 2));
  }

  @Test
  void anOldAssignmentIsMigratedInOneFencedTransaction() throws Exception {
    CuratorFramework admin = client();
    admin.create().creatingParentsIfNeeded().forPath(PATHS.oldAssignment(), ("""
        {"shards":[{"shard":0,"owner":"node-a","epoch":3,"store":"store-a0"},
        {"shard":1,"owner":"node-b","epoch":1,"store":""},
        {"shard":2,"owner":"node-a","epoch":5}]}""").getBytes(StandardCharsets.UTF_8));
    // Three replicas would need three nodes to form; a migration needs none of that.
    Member a = join("node-a", 3, 2, 3, "");
    join("node-b", 3, 2, 3, "");
    await("the shard states are written", () -> read(a).isPresent());
    ShardStates states = read(a).orElseThrow();
    assertEquals(new ShardState(0, List.of("node-a"), "node-a", 4, Map.of("node-a", "store-a0")),
        states.state(0));
    assertEquals(new ShardState(1, List.of("node-b"), "node-b", 2, Map.of("node-b", "")),
        states.state(1));
    assertEquals(new ShardState(2, List.of("node-a"), "node-a", 6, Map.of("node-a", "")),
        states.state(2));
    assertNull(admin.checkExists().forPath(PATHS.oldAssignment()), "the old znode is gone");
  }

  /** A controller on a node that holds no replica (it never registers), so nodes can leave. */
  private Controller controllerOnly(int shards, int initialNodes, int replicationFactor)
      throws InterruptedException {
    Controller controller = new Controller(client(), PATHS, "ctl", shards, initialNodes,
        replicationFactor);
    controller.start();
    opened.add(controller);
    await("ctl is the controller", () -> controller.isLeader() && controller.epoch() >= 0);
    return controller;
  }

  /** Registers {@code id} on a client of its own, with these stores open. */
  private Membership node(String id, Map<Integer, String> stores) throws Exception {
    Membership m = register(client(), id, "");
    m.publishStores(stores);
    return m;
  }

  private void awaitGone(String id) throws InterruptedException {
    CuratorFramework zk = client();
    await(id + "'s registration is gone", () -> {
      try {
        return !ClusterState.liveNodes(zk, PATHS).contains(id);
      } catch (Exception e) {
        return false;
      }
    });
  }

  @Test
  void aLeaderThatLeavesIsReplacedByAnInSyncReplicaAtTheNextEpoch() throws Exception {
    Controller controller = controllerOnly(2, 3, 3);
    CuratorFramework zkA = client();
    Membership a = register(zkA, "node-a", "");
    a.publishStores(Map.of(0, "a-0", 1, "a-1"));
    node("node-b", Map.of(0, "b-0", 1, "b-1"));
    node("node-c", Map.of(0, "c-0", 1, "c-1"));
    CuratorFramework observer = client();
    await("the leaders' stores are recorded", () -> read(observer).map(s ->
        s.states().values().stream().allMatch(st -> !st.isr().get(st.leader()).isEmpty()))
        .orElse(false));
    VersionedShardState formed = read(observer).orElseThrow().versioned(0);
    assertEquals(List.of("node-a", "node-b", "node-c"), formed.state().replicas());
    assertEquals(Map.of("node-a", "a-0"), formed.state().isr());

    // The leader brings its followers into the in-sync set, as the replication runtime will
    // once they have caught up: its own conditional write, not the controller's.
    ZkInSyncWriter leaderWrites = new ZkInSyncWriter(zkA, PATHS, "node-a");
    Map<String, String> all = Map.of("node-a", "a-0", "node-b", "b-0", "node-c", "c-0");
    VersionedShardState full = leaderWrites.changeInSync(formed, all).orElseThrow();
    assertEquals(all, full.state().isr());
    assertEquals(Optional.empty(), leaderWrites.changeInSync(formed, Map.of("node-a", "a-0")),
        "a write at a version already changed fails");
    assertEquals(Optional.empty(),
        new ZkInSyncWriter(zkA, PATHS, "node-b").changeInSync(full, Map.of("node-b", "b-0")),
        "only the leader changes its in-sync set");
    long electionsBefore = controller.electionCount();

    a.close();
    await("shard 0 has a new leader", () -> read(observer).orElseThrow().state(0).isLeader("node-b"));
    ShardState elected = read(observer).orElseThrow().state(0);
    assertEquals(full.state().epoch() + 1, elected.epoch(), "a new leader, a new epoch");
    assertEquals(Map.of("node-b", "b-0", "node-c", "c-0"), elected.isr(),
        "the old leader leaves the in-sync set");
    assertTrue(controller.electionCount() > electionsBefore, "the election is counted");

    // The deposed leader's late in-sync write fails, on the old and on the new state.
    assertEquals(Optional.empty(), leaderWrites.changeInSync(full, Map.of("node-a", "a-0")));
    VersionedShardState now = read(observer).orElseThrow().versioned(0);
    assertEquals(Optional.empty(), leaderWrites.changeInSync(now, Map.of("node-a", "a-0")));
  }

  @Test
  void aShardWithNoLiveInSyncReplicaIsLeaderlessUntilItsStoreReturns() throws Exception {
    controllerOnly(4, 2, 1);
    node("node-a", Map.of(0, "a-0", 2, "a-2"));
    Membership b = node("node-b", Map.of(1, "b-1", 3, "b-3"));
    CuratorFramework observer = client();
    await("the leaders' stores are recorded", () -> read(observer).map(s ->
        s.states().values().stream().allMatch(st -> !st.isr().get(st.leader()).isEmpty()))
        .orElse(false));
    ShardState before = read(observer).orElseThrow().state(1);
    assertEquals(new ShardState(1, List.of("node-b"), "node-b", 1, Map.of("node-b", "b-1")),
        before);

    b.close();
    awaitGone("node-b");
    await("node-b's shards are leaderless", () -> !read(observer).orElseThrow().state(1).hasLeader()
        && !read(observer).orElseThrow().state(3).hasLeader());
    ShardState offline = read(observer).orElseThrow().state(1);
    assertEquals(2, offline.epoch(), "leaderless at a new epoch, which fences the old leader");
    assertEquals(Map.of("node-b", "b-1"), offline.isr(), "the last in-sync replica is kept");

    // node-b returns with shard 3's store but an empty one for shard 1 (its disk was replaced).
    Membership back = node("node-b", Map.of(1, "b-1-empty", 3, "b-3"));
    await("shard 3 leads again", () -> read(observer).orElseThrow().state(3).isLeader("node-b"));
    assertEquals(offline, read(observer).orElseThrow().state(1),
        "a node back with another store is not elected: it lacks what was acknowledged");
    assertEquals(3, read(observer).orElseThrow().state(3).epoch());

    back.publishStores(Map.of(1, "b-1", 3, "b-3")); // the data is back
    await("shard 1 leads again", () -> read(observer).orElseThrow().state(1).isLeader("node-b"));
    assertEquals(3, read(observer).orElseThrow().state(1).epoch());
  }

  @Test
  void aControllerWriteOnAStaleShardVersionIsDecidedAgainNotForced() throws Exception {
    Controller controller = controllerOnly(1, 1, 1);
    CuratorFramework zkA = client();
    Membership a = register(zkA, "node-a", "");
    a.publishStores(Map.of(0, "a-0"));
    CuratorFramework observer = client();
    await("the store is recorded", () -> read(observer).map(
        s -> s.state(0).isr().get("node-a").equals("a-0")).orElse(false));
    VersionedShardState read = read(observer).orElseThrow().versioned(0);
    // The leader writes first; the controller's write at the version it read must fail.
    new ZkInSyncWriter(zkA, PATHS, "node-a").changeInSync(read, Map.of("node-a", "a-0"))
        .orElseThrow();
    assertFalse(controller.writeShard(read, read.state().withLeader("", read.state().isr())));
    assertTrue(read(observer).orElseThrow().state(0).isLeader("node-a"), "nothing overwritten");
  }

  @Test
  void aDeposedControllersDelayedWriteIsRejected() throws Exception {
    Member a = join("node-a", 4, 2);
    await("node-a leads", () -> a.controller().isLeader() && a.controller().epoch() >= 0);
    Member b = join("node-b", 4, 2);
    await("the shard states are written", () -> read(a).isPresent());
    ShardStates before;
    long epochA = a.controller().epoch();

    // node-a's session expires (a long GC pause, a partition): node-b takes over.
    a.zk().getZookeeperClient().getZooKeeper().getTestable().injectSessionExpiration();
    await("node-b leads at a newer epoch",
        () -> b.controller().isLeader() && b.controller().epoch() > epochA);
    awaitLeaderlessWithout(b, "node-a");

    before = read(b).orElseThrow();
    // node-a, back from its pause, still believes it may write: the fence rejects it.
    assertThrows(NotControllerException.class, () -> a.controller().moveShard(0, "node-a-again"));
    assertEquals(before, read(b).orElseThrow(), "the rejected write changed nothing");

    ShardState moved = b.controller().moveShard(0, "node-b");
    assertEquals("node-b", moved.leader());
    assertEquals(before.state(0).epoch() + 1, moved.epoch(), "a change of leader bumps the epoch");
    assertEquals(moved, read(b).orElseThrow().state(0));
  }

  @Test
  void thePlacementIsKeptWhenControllersAndNodesChange() throws Exception {
    Member a = join("node-a", 8, 2);
    Member b = join("node-b", 8, 2);
    await("the shard states are written",
        () -> (a.controller().isLeader() || b.controller().isLeader()) && read(a).isPresent());
    ShardStates formed = read(a).orElseThrow();

    Member c = join("node-c", 8, 2);
    Member leader = a.controller().isLeader() ? a : b;
    Member survivor = leader == a ? b : a;
    leader.controller().close();
    await("another controller is elected",
        () -> survivor.controller().isLeader() || c.controller().isLeader());
    Thread.sleep(300);
    assertEquals(formed.states(), read(c).orElseThrow().states(),
        "shards never move without their data: no reshuffle when nodes or controllers change");
    assertEquals(List.of(), formed.replicaOf("node-c"));
  }

  @Test
  void aLateElectionCallbackOnADeposedControllerDoesNotMoveTheEpoch() throws Exception {
    Member a = join("node-a", 4, 2);
    await("node-a leads", () -> a.controller().isLeader() && a.controller().epoch() >= 0);
    Member b = join("node-b", 4, 2);
    await("the shard states are written", () -> read(a).isPresent());
    long epochA = a.controller().epoch();
    a.zk().getZookeeperClient().getZooKeeper().getTestable().injectSessionExpiration();
    await("node-b leads at a newer epoch",
        () -> b.controller().isLeader() && b.controller().epoch() > epochA);
    awaitLeaderlessWithout(b, "node-a");
    int before = epochVersion(b);

    // node-a's isLeader callback from its old term runs only now (its thread was paused).
    a.controller().onElected();

    assertEquals(before, epochVersion(b), "a deposed node must not bump the controller epoch");
    assertEquals("node-a", b.controller().moveShard(0, "node-a").leader(),
        "the real controller's fenced writes still go through");
  }

  @Test
  void theEpochBumpItselfIsFencedOnTheLatchInZooKeeper() throws Exception {
    // The race a local hasLeadership() check cannot close: the bump runs after the node was
    // deposed in ZooKeeper but before its latch heard of it. Only the transaction can refuse.
    Member a = join("node-a", 4, 2);
    await("node-a leads", () -> a.controller().isLeader() && a.controller().epoch() >= 0);
    Member b = join("node-b", 4, 2);
    await("the shard states are written", () -> read(a).isPresent());
    long epochA = a.controller().epoch();
    a.zk().getZookeeperClient().getZooKeeper().getTestable().injectSessionExpiration();
    await("node-b leads at a newer epoch",
        () -> b.controller().isLeader() && b.controller().epoch() > epochA);
    awaitLeaderlessWithout(b, "node-a");
    int before = epochVersion(b);

    assertThrows(NotControllerException.class, () -> a.controller().bumpEpoch());

    assertEquals(before, epochVersion(b), "a deposed node must not bump the controller epoch");
    assertEquals("node-a", b.controller().moveShard(0, "node-a").leader());
  }

  @Test
  void aControllerWhoseFirstAttemptFailsRetriesWhileItLeads() throws Exception {
    // A real ZooKeeper refusal: the epoch znode may be read but not written, until the test
    // lifts that. The elected controller's first bump fails; it must try again by itself.
    CuratorFramework admin = client();
    admin.create().creatingParentsIfNeeded()
        .withACL(List.of(new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.ADMIN, ZooDefs.Ids.ANYONE_ID_UNSAFE)))
        .forPath(PATHS.controllerEpoch(), new byte[0]);
    ListAppender<ILoggingEvent> logs = capture(Controller.class);

    Member a = join("node-a", 4, 1);
    await("node-a's first attempt failed", () -> a.controller().isLeader() && logs.list.stream()
        .anyMatch(e -> e.getLevel().isGreaterOrEqual(Level.WARN)));
    admin.setACL().withACL(ZooDefs.Ids.OPEN_ACL_UNSAFE).forPath(PATHS.controllerEpoch());

    await("node-a is the controller and formed the cluster",
        () -> a.controller().epoch() >= 0 && read(a).isPresent());
    assertEquals("node-b", a.controller().moveShard(1, "node-b").leader(),
        "the controller's fenced write goes through after the retry");
  }

  @Test
  void closingAControllerThatWaitsForNodesLogsNoError() throws Exception {
    Member a = join("node-a", 4, 2);
    await("node-a leads and waits for a second node",
        () -> a.controller().isLeader() && a.controller().epoch() >= 0);
    ListAppender<ILoggingEvent> logs = capture(Controller.class);

    a.controller().close();
    // What the takeover thread logs as it stops counts too, even if close() did not wait.
    await("the controller thread has stopped", () -> Thread.getAllStackTraces().keySet().stream()
        .noneMatch(t -> t.getName().equals("controller-node-a") && t.isAlive()));

    assertEquals(List.of(), logs.list.stream().filter(e -> e.getLevel() == Level.ERROR)
        .map(ILoggingEvent::getFormattedMessage).toList(), "a normal close is not an error");
  }

  private CuratorFramework client() {
    CuratorFramework zk = CuratorFrameworkFactory.builder()
        .connectString(zookeeper.getConnectString())
        .sessionTimeoutMs(10_000)
        .connectionTimeoutMs(5_000)
        .retryPolicy(new ExponentialBackoffRetry(50, 10))
        .build();
    zk.start();
    opened.add(zk);
    return zk;
  }

  private ListAppender<ILoggingEvent> capture(Class<?> type) {
    Logger logger = (Logger) LoggerFactory.getLogger(type);
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    Level level = logger.getLevel();
    logger.setLevel(Level.INFO); // the test logging configuration may hide INFO
    logger.addAppender(appender);
    opened.add(() -> {
      logger.detachAppender(appender);
      logger.setLevel(level);
    });
    return appender;
  }

  private static int epochVersion(Member m) throws Exception {
    Stat stat = m.zk().checkExists().forPath(PATHS.controllerEpoch());
    return stat.getVersion();
  }

  /**
   * Waits until the shard states settle after {@code gone}'s session expired: either the
   * controller on {@code m} made its shards leaderless, or {@code gone} registered again (with
   * no stores, so it counts as opening them and keeps them).
   */
  private static void awaitLeaderlessWithout(Member m, String gone) throws InterruptedException {
    await(gone + "'s shards are settled", () -> {
      try {
        return read(m).map(s -> s.ledBy(gone).isEmpty()).orElse(false)
            || ClusterState.liveNodes(m.zk(), PATHS).contains(gone);
      } catch (Exception e) {
        return false;
      }
    });
  }

  private static Optional<ShardStates> read(Member m) {
    return read(m.zk());
  }

  private static Optional<ShardStates> read(CuratorFramework zk) {
    try {
      return ClusterState.readShardStates(zk, PATHS);
    } catch (Exception e) {
      return Optional.empty();
    }
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(20);
    }
  }
}
