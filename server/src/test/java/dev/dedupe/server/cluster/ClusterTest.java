package dev.dedupe.server.cluster;

import static dev.dedupe.server.cluster.ClusterFixture.await;
import static dev.dedupe.server.cluster.ClusterFixture.ids;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.rpc.Code;
import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.DedupeNode;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckRequest;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.ShardOwner;
import dev.dedupe.v1.Verdict;
import dev.dedupe.v1.WatchShardMapRequest;
import dev.dedupe.v1.WatchShardMapResponse;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three nodes coordinated by a real ZooKeeper server, over real gRPC on loopback: routing,
 * self-fencing when cut off from ZooKeeper, session expiry, node restarts and controller
 * failover, each checked against the invariants from recorded histories.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ClusterTest {

  private static final int SHARDS = 12;
  private static final String NS = "cluster.test";

  @TempDir Path dir;
  private ClusterFixture cluster;

  @AfterEach
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  /**
   * Three nodes, three replicas of every shard, every follower in sync: a node stopped from
   * here on has an in-sync follower to fail over to for every shard it leads.
   */
  private ClusterFixture start() throws Exception {
    return start(3);
  }

  private ClusterFixture start(int replicationFactor) throws Exception {
    cluster = new ClusterFixture(dir, 3, SHARDS, 3, replicationFactor);
    cluster.awaitServing();
    cluster.awaitInSync();
    return cluster;
  }

  @Test
  void eachIdIsDecidedByItsOwnerAndOtherNodesPointThere() throws Exception {
    start();
    GetShardMapResponse map = cluster.stub(0).getShardMap(GetShardMapRequest.getDefaultInstance());
    assertEquals(SHARDS, map.getOwnersCount());
    for (int i = 1; i < 3; i++) {
      assertEquals(map, cluster.stub(i).getShardMap(GetShardMapRequest.getDefaultInstance()),
          "every node reports the same map");
    }
    List<String> ids = ids("route-", 300);
    // Ask node 0 for everything, marked as already forwarded (as a node forwards it), so that
    // node 0 forwards nothing: it decides its own shards and points at the owner for others.
    io.grpc.Metadata forwarded = new io.grpc.Metadata();
    forwarded.put(io.grpc.Metadata.Key.of("dedupe-forwarded-by", io.grpc.Metadata.ASCII_STRING_MARSHALLER),
        "node-1");
    List<IdResult> first = cluster.stub(0)
        .withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(forwarded))
        .checkAndInsert(insert("t-1", ids)).getResultsList();
    String node0 = cluster.node(0).advertisedAddress();
    int decidedHere = 0;
    for (int i = 0; i < ids.size(); i++) {
      ShardOwner owner = map.getOwners(ShardHash.shardOf(NS, ids.get(i), SHARDS));
      IdResult r = first.get(i);
      if (owner.getAddress().equals(node0)) {
        assertEquals(Verdict.VERDICT_NEW, r.getVerdict());
        decidedHere++;
      } else {
        assertEquals(Verdict.VERDICT_UNSPECIFIED, r.getVerdict(), "never a guessed verdict");
        assertEquals(Code.UNAVAILABLE_VALUE, r.getStatus().getCode());
        assertEquals(owner, r.getStatus().getOwner(), "the hint names the owner and its epoch");
      }
    }
    assertTrue(decidedHere > 0 && decidedHere < ids.size());

    History history = new History();
    Router router = new Router(cluster, history);
    router.decide(0, "t-1", ids);
    router.decide(2, "t-2", ids);
    history.assertInvariants(cluster);
    assertEquals(ids.size(), history.newIds().size());
  }

  @Test
  void aClientWatchingTheMapSeesItFormAndChange() throws Exception {
    start();
    Iterator<WatchShardMapResponse> watch = cluster.stub(1).withDeadlineAfter(30, TimeUnit.SECONDS)
        .watchShardMap(WatchShardMapRequest.getDefaultInstance());
    WatchShardMapResponse current = watch.next();
    assertEquals(SHARDS, current.getOwnersCount());
    String owner0 = current.getOwners(0).getNodeId();
    String other = owner0.equals("node-1") ? "node-2" : "node-1";

    long epochBefore = current.getOwners(0).getEpoch();
    Controller controller = cluster.running().stream()
        .map(n -> n.clusterMember().controller()).filter(Controller::isLeader).findFirst().orElseThrow();
    controller.moveShard(0, other);
    WatchShardMapResponse changed = watch.next();
    while (!changed.getOwners(0).getNodeId().equals(other)) {
      changed = watch.next(); // a map sent before the move reached this node
    }
    assertEquals(other, changed.getOwners(0).getNodeId());
    assertEquals(epochBefore + 1, changed.getOwners(0).getEpoch(), "a new leader bumps the epoch");
  }

  @Test
  void aNodeLeadingAloneStopsServingWhenCutOffFromZooKeeperAndComesBackWithItsData()
      throws Exception {
    // One replica per shard: nothing but its session fences a leader, so without ZooKeeper it
    // must stop (with followers it serves on: ZooKeeperOutageTest).
    start(1);
    History history = new History();
    Router router = new Router(cluster, history);
    List<String> ids = ids("suspend-", 200);
    router.decide(0, "before", ids);

    cluster.zookeeper.stop();
    await("every node has fenced itself", () -> cluster.running().stream()
        .allMatch(n -> n.clusterMember().isFenced()));
    for (int i = 0; i < 3; i++) {
      List<IdResult> results = cluster.stub(i).checkAndInsert(insert("during", ids)).getResultsList();
      assertTrue(results.stream().allMatch(r -> r.getStatus().getCode() == Code.UNAVAILABLE_VALUE),
          "a fenced node answers UNAVAILABLE for every id, its own shards included");
    }
    assertTrue(cluster.running().stream().noneMatch(DedupeNode::isReady), "readiness is DOWN");

    cluster.zookeeper.restart();
    cluster.awaitServing();
    router.decide(1, "after", ids);
    history.assertInvariants(cluster);
  }

  @Test
  void anExpiredSessionFencesTheNodeUntilItHasReReadTheShardStates() throws Exception {
    start();
    History history = new History();
    Router router = new Router(cluster, history);
    AtomicBoolean running = new AtomicBoolean(true);
    ExecutorService load = Executors.newFixedThreadPool(3);
    List<Future<?>> workers = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      int thread = t;
      workers.add(load.submit(() -> {
        int round = 0;
        while (running.get() && round < 400) {
          List<String> batch = new ArrayList<>(ids("shared-", 40).subList(0, 20));
          batch.addAll(ids("t" + thread + "-" + round + "-", 20));
          router.decide(ThreadLocalRandom.current().nextInt(3), UUID.randomUUID().toString(), batch);
          round++;
        }
        return null;
      }));
    }
    // Wait for work, not for time: the expiry must land under load however slow the machine.
    await("the load has decided 100 ids", () -> history.newIds().size() >= 100
        || workers.stream().allMatch(Future::isDone));
    DedupeNode victim = cluster.node(1);
    long fencesBefore = victim.clusterMember().fenceCount();
    victim.clusterMember().zookeeper().getZookeeperClient().getZooKeeper().getTestable()
        .injectSessionExpiration();
    await("node-1 fenced itself", () -> victim.clusterMember().fenceCount() > fencesBefore);
    await("node-1 serves again", victim::isReady);
    int decidedBefore = history.newIds().size();
    await("the load decides more ids after node-1 is back",
        () -> history.newIds().size() >= decidedBefore + 100
            || workers.stream().allMatch(Future::isDone));
    running.set(false);
    for (Future<?> w : workers) {
      w.get(60, TimeUnit.SECONDS);
    }
    load.shutdown();
    history.assertInvariants(cluster);
    assertTrue(history.newIds().size() > 100, "the load decided ids: " + history.newIds().size());
  }

  @Test
  void aStoppedNodesShardsFailOverWithTheirDataAndItRejoinsTheInSyncSetsOnReturn()
      throws Exception {
    start();
    History history = new History();
    Router router = new Router(cluster, history);
    List<String> ids = ids("restart-", 300);
    router.decide(0, "before", ids);
    GetShardMapResponse map = cluster.stub(0).getShardMap(GetShardMapRequest.getDefaultInstance());
    assertTrue(map.getOwnersList().stream().anyMatch(o -> o.getNodeId().equals("node-2")),
        "node-2 leads some shards: " + map);

    cluster.stop(2);
    // Every id is answered by the in-sync followers that took over, and each is DUPLICATE:
    // nothing acknowledged by node-2 as leader was only on node-2.
    router.decide(0, "while-down", ids);
    history.assertInvariants(cluster);

    cluster.start(2);
    cluster.awaitServing();
    await("node-2 is back in the in-sync set of every shard", () -> cluster.node(0)
        .clusterMember().shardStates().values().stream().allMatch(s -> s.inSync("node-2")));
    router.decide(2, "after", ids);
    history.assertInvariants(cluster);
  }

  @Test
  void whenTheControllerDiesAnotherTakesOverAndTheLiveLeadersStay() throws Exception {
    start();
    GetShardMapResponse before = cluster.stub(1).getShardMap(GetShardMapRequest.getDefaultInstance());
    int leader = -1;
    for (int i = 0; i < 3; i++) {
      if (cluster.node(i).clusterMember().controller().isLeader()) {
        leader = i;
      }
    }
    assertTrue(leader >= 0, "one node is the controller");
    long oldEpoch = cluster.node(leader).clusterMember().controller().epoch();
    Controller deposed = cluster.node(leader).clusterMember().controller();
    cluster.stop(leader);
    await("another node is the controller at a newer epoch", () -> cluster.running().stream()
        .anyMatch(n -> n.clusterMember().controller().isLeader()
            && n.clusterMember().controller().epoch() > oldEpoch));
    assertThrowsNotController(() -> deposed.moveShard(0, "node-x"));
    int other = (leader + 1) % 3;
    String stopped = "node-" + leader;
    // The stopped node's shards go to an in-sync follower, elected by the new controller.
    await("the stopped node's shards have other leaders", () -> {
      GetShardMapResponse now = cluster.stub(other).getShardMap(GetShardMapRequest.getDefaultInstance());
      for (int s = 0; s < SHARDS; s++) {
        if (before.getOwners(s).getNodeId().equals(stopped)
            && (now.getOwners(s).getNodeId().equals(stopped)
                || now.getOwners(s).getAddress().isEmpty())) {
          return false;
        }
      }
      return true;
    });
    GetShardMapResponse after = cluster.stub(other).getShardMap(GetShardMapRequest.getDefaultInstance());
    for (int s = 0; s < SHARDS; s++) {
      if (before.getOwners(s).getNodeId().equals(stopped)) {
        assertEquals(before.getOwners(s).getEpoch() + 1, after.getOwners(s).getEpoch(),
            "one election per shard");
        continue;
      }
      assertEquals(before.getOwners(s).getNodeId(), after.getOwners(s).getNodeId(),
          "a change of controller moves no live leader");
      assertEquals(before.getOwners(s).getEpoch(), after.getOwners(s).getEpoch());
    }
  }

  private static void assertThrowsNotController(Runnable write) {
    try {
      write.run();
    } catch (NotControllerException | ClusterException expected) {
      return;
    }
    throw new AssertionError("a deposed controller's write went through");
  }

  private static CheckAndInsertRequest insert(String token, List<String> ids) {
    return CheckAndInsertRequest.newBuilder().setNamespace(NS).setAttemptToken(token)
        .addAllMessageIds(ids).build();
  }

  /** What every caller was told, per id, in the order the answers arrived. */
  static final class History {
    record Answer(String id, String token, Verdict verdict, boolean replay, long firstSeenSeconds) {}

    private final Queue<Answer> answers = new ConcurrentLinkedQueue<>();

    void record(String id, String token, IdResult r) {
      answers.add(new Answer(id, token, r.getVerdict(), r.getReplay(), r.getFirstSeen().getSeconds()));
    }

    /** Ids some caller was told NEW. */
    List<String> newIds() {
      return answers.stream().filter(a -> a.verdict() == Verdict.VERDICT_NEW)
          .map(Answer::id).distinct().toList();
    }

    /**
     * Every id was NEW for at most one attempt token, and every id answered NEW is DUPLICATE
     * now, on whichever node owns it.
     */
    void assertInvariants(ClusterFixture cluster) throws Exception {
      Map<String, String> winner = new HashMap<>();
      for (Answer a : answers) {
        if (a.verdict() == Verdict.VERDICT_NEW) {
          String previous = winner.putIfAbsent(a.id(), a.token());
          assertTrue(previous == null || previous.equals(a.token()),
              a.id() + " was NEW for two attempts: " + previous + " and " + a.token());
        }
      }
      List<String> acked = new ArrayList<>(winner.keySet());
      Router checker = new Router(cluster, null);
      for (int from = 0; from < acked.size(); from += 500) {
        List<String> part = acked.subList(from, Math.min(acked.size(), from + 500));
        List<IdResult> now = checker.check(part);
        for (int i = 0; i < part.size(); i++) {
          assertEquals(Verdict.VERDICT_DUPLICATE, now.get(i).getVerdict(),
              part.get(i) + " was acknowledged NEW but is " + now.get(i));
        }
      }
    }
  }

  /**
   * A minimal routing caller for the tests: sends a batch to one node, follows owner hints,
   * and retries what is still unavailable with the same attempt token until a deadline.
   */
  static final class Router {
    private final ClusterFixture cluster;
    private final History history;

    Router(ClusterFixture cluster, History history) {
      this.cluster = cluster;
      this.history = history;
    }

    void decide(int entryNode, String token, List<String> ids) throws InterruptedException {
      route(entryNode, ids, (address, part) -> cluster.stub(address)
          .checkAndInsert(insert(token, part)).getResultsList(), token);
    }

    List<IdResult> check(List<String> ids) throws InterruptedException {
      return route(0, ids, (address, part) -> cluster.stub(address)
          .check(CheckRequest.newBuilder().setNamespace(NS).addAllMessageIds(part).build())
          .getResultsList(), null);
    }

    private List<IdResult> route(int entryNode, List<String> ids,
        java.util.function.BiFunction<String, List<String>, List<IdResult>> call, String token)
        throws InterruptedException {
      IdResult[] out = new IdResult[ids.size()];
      Map<String, List<Integer>> pending = new HashMap<>();
      List<Integer> all = new ArrayList<>();
      for (int i = 0; i < ids.size(); i++) {
        all.add(i);
      }
      pending.put(entryAddress(entryNode), all);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (!pending.isEmpty()) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("ids still unavailable after 90 s: " + pending);
        }
        Map<String, List<Integer>> next = new HashMap<>();
        for (Map.Entry<String, List<Integer>> e : pending.entrySet()) {
          List<String> part = e.getValue().stream().map(ids::get).toList();
          List<IdResult> results;
          try {
            results = call.apply(e.getKey(), part);
          } catch (StatusRuntimeException down) {
            next.computeIfAbsent(entryAddress(ThreadLocalRandom.current().nextInt(3)),
                a -> new ArrayList<>()).addAll(e.getValue());
            continue;
          }
          for (int j = 0; j < part.size(); j++) {
            int at = e.getValue().get(j);
            IdResult r = results.get(j);
            if (!r.hasStatus()) {
              out[at] = r;
              if (history != null && token != null) {
                history.record(ids.get(at), token, r);
              }
              continue;
            }
            String owner = r.getStatus().getOwner().getAddress();
            next.computeIfAbsent(owner.isEmpty() ? entryAddress(ThreadLocalRandom.current().nextInt(3)) : owner,
                a -> new ArrayList<>()).add(at);
          }
        }
        if (!next.isEmpty()) {
          Thread.sleep(50);
        }
        pending = next;
      }
      return List.of(out);
    }

    private String entryAddress(int preferred) {
      List<DedupeNode> running = cluster.running();
      DedupeNode node = cluster.node(preferred) != null ? cluster.node(preferred) : running.get(0);
      return node.advertisedAddress();
    }
  }
}
