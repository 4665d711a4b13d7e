package dev.dedupe.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

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
    CuratorFramework zk = CuratorFrameworkFactory.builder()
        .connectString(zookeeper.getConnectString())
        .sessionTimeoutMs(10_000)
        .connectionTimeoutMs(5_000)
        .retryPolicy(new ExponentialBackoffRetry(50, 10))
        .build();
    zk.start();
    opened.add(zk);
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
