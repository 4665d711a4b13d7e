package dev.dedupe.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
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
import org.slf4j.LoggerFactory;

/** Controller election, the initial spread, and fencing, against a real ZooKeeper server. */
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
  private record Member(String id, CuratorFramework zk, Controller controller) {}

  private Member join(String id, int shards, int initialNodes) {
    CuratorFramework zk = client();
    Membership membership = new Membership(zk, PATHS, id, id + ":50051", id + ":8081");
    membership.start(10_000);
    opened.add(membership);
    Controller controller = new Controller(zk, PATHS, id, shards, initialNodes);
    controller.start();
    opened.add(controller);
    return new Member(id, zk, controller);
  }

  @Test
  void shardsAreSpreadEvenlyOnceTheInitialNodesHaveJoined() throws Exception {
    Member a = join("node-a", 12, 3);
    Member b = join("node-b", 12, 3);
    await("a controller is elected", () -> a.controller().isLeader() || b.controller().isLeader());
    Thread.sleep(500);
    assertEquals(Optional.empty(), ClusterState.readAssignment(a.zk(), PATHS),
        "no assignment before the third node joins");

    join("node-c", 12, 3);
    await("the assignment is written", () -> read(a).isPresent());
    ShardAssignment assignment = read(a).orElseThrow();
    Map<String, Long> perNode = assignment.shards().stream()
        .collect(Collectors.groupingBy(ShardAssignment.Entry::owner, Collectors.counting()));
    assertEquals(Map.of("node-a", 4L, "node-b", 4L, "node-c", 4L), perNode);
    assertTrue(assignment.shards().stream().allMatch(e -> e.epoch() == 1));
  }

  @Test
  void aDeposedControllersDelayedWriteIsRejected() throws Exception {
    Member a = join("node-a", 4, 2);
    await("node-a leads", () -> a.controller().isLeader() && a.controller().epoch() >= 0);
    Member b = join("node-b", 4, 2);
    await("the assignment is written", () -> read(a).isPresent());
    ShardAssignment before = read(a).orElseThrow();
    long epochA = a.controller().epoch();

    // node-a's session expires (a long GC pause, a partition): node-b takes over.
    a.zk().getZookeeperClient().getZooKeeper().getTestable().injectSessionExpiration();
    await("node-b leads at a newer epoch",
        () -> b.controller().isLeader() && b.controller().epoch() > epochA);

    // node-a, back from its pause, still believes it may write: the fence rejects it.
    assertThrows(NotControllerException.class, () -> a.controller().moveShard(0, "node-a-again"));
    assertEquals(before, read(b).orElseThrow(), "the rejected write changed nothing");

    ShardAssignment moved = b.controller().moveShard(0, "node-b");
    assertEquals("node-b", moved.shard(0).owner());
    assertEquals(2, moved.shard(0).epoch(), "a change of owner bumps the shard epoch");
    assertEquals(moved, read(b).orElseThrow());
  }

  @Test
  void theAssignmentIsKeptWhenControllersAndNodesChange() throws Exception {
    Member a = join("node-a", 8, 2);
    Member b = join("node-b", 8, 2);
    await("the assignment is written",
        () -> (a.controller().isLeader() || b.controller().isLeader()) && read(a).isPresent());
    ShardAssignment formed = read(a).orElseThrow();

    Member c = join("node-c", 8, 2);
    Member leader = a.controller().isLeader() ? a : b;
    Member survivor = leader == a ? b : a;
    leader.controller().close();
    await("another controller is elected",
        () -> survivor.controller().isLeader() || c.controller().isLeader());
    Thread.sleep(300);
    assertEquals(formed, read(c).orElseThrow(),
        "shards never move without their data: no reshuffle when nodes or controllers change");
    assertEquals(List.of(), formed.ownedBy("node-c"));
  }

  @Test
  void aLateElectionCallbackOnADeposedControllerDoesNotMoveTheEpoch() throws Exception {
    Member a = join("node-a", 4, 2);
    await("node-a leads", () -> a.controller().isLeader() && a.controller().epoch() >= 0);
    Member b = join("node-b", 4, 2);
    await("the assignment is written", () -> read(a).isPresent());
    long epochA = a.controller().epoch();
    a.zk().getZookeeperClient().getZooKeeper().getTestable().injectSessionExpiration();
    await("node-b leads at a newer epoch",
        () -> b.controller().isLeader() && b.controller().epoch() > epochA);
    int before = epochVersion(b);

    // node-a's isLeader callback from its old term runs only now (its thread was paused).
    a.controller().onElected();

    assertEquals(before, epochVersion(b), "a deposed node must not bump the controller epoch");
    assertEquals("node-a", b.controller().moveShard(0, "node-a").shard(0).owner(),
        "the real controller's fenced writes still go through");
  }

  @Test
  void theEpochBumpItselfIsFencedOnTheLatchInZooKeeper() throws Exception {
    // The race a local hasLeadership() check cannot close: the bump runs after the node was
    // deposed in ZooKeeper but before its latch heard of it. Only the transaction can refuse.
    Member a = join("node-a", 4, 2);
    await("node-a leads", () -> a.controller().isLeader() && a.controller().epoch() >= 0);
    Member b = join("node-b", 4, 2);
    await("the assignment is written", () -> read(a).isPresent());
    long epochA = a.controller().epoch();
    a.zk().getZookeeperClient().getZooKeeper().getTestable().injectSessionExpiration();
    await("node-b leads at a newer epoch",
        () -> b.controller().isLeader() && b.controller().epoch() > epochA);
    int before = epochVersion(b);

    assertThrows(NotControllerException.class, () -> a.controller().bumpEpoch());

    assertEquals(before, epochVersion(b), "a deposed node must not bump the controller epoch");
    assertEquals("node-a", b.controller().moveShard(0, "node-a").shard(0).owner());
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
    assertEquals("node-b", a.controller().moveShard(1, "node-b").shard(1).owner(),
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
    logger.addAppender(appender);
    opened.add(() -> logger.detachAppender(appender));
    return appender;
  }

  private static int epochVersion(Member m) throws Exception {
    Stat stat = m.zk().checkExists().forPath(PATHS.controllerEpoch());
    return stat.getVersion();
  }

  private static Optional<ShardAssignment> read(Member m) {
    try {
      return ClusterState.readAssignment(m.zk(), PATHS);
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
