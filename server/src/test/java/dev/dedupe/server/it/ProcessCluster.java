package dev.dedupe.server.it;

import dev.dedupe.server.cluster.ClusterPaths;
import dev.dedupe.server.cluster.NodeRegistration;
import dev.dedupe.server.cluster.ShardStateJson;
import dev.dedupe.server.replication.ShardState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * A cluster of node processes ({@link ServerProcess}, as {@code bin/dedupe server --zk} runs
 * them) around one real ZooKeeper in the test's JVM, and what a test reads of it: the shard
 * states and registrations in ZooKeeper, the controller, each node's readiness. Nodes are
 * {@code node-0}, {@code node-1}, ...; the first {@code initialNodes} form the cluster, and a
 * node started later joins it empty (an admin's "add a node").
 *
 * <p>Node logs go to {@code logDir/node-<i>.<start>.log}, one file per start, and stay there
 * for a failed run to be read.
 */
public final class ProcessCluster implements AutoCloseable {

  private final String name;
  private final int shards;
  private final int initialNodes;
  private final List<String> settings;
  private final ClusterPaths paths;
  private final Path dataRoot;
  private final Path logDir;
  private final TestingServer zookeeper;
  private final CuratorFramework observer;
  private final List<ServerProcess> nodes = new ArrayList<>();
  private final List<Integer> starts = new ArrayList<>();
  /** Each node's API and ops ports, kept across its restarts (a restarted node keeps its address). */
  private final List<int[]> ports = new ArrayList<>();
  private final List<Boolean> paused = new ArrayList<>();
  private final HttpClient http = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(1)).build();

  private ProcessCluster(String name, int shards, int initialNodes, List<String> settings,
      Path logDir) throws Exception {
    this.name = name;
    this.shards = shards;
    this.initialNodes = initialNodes;
    this.settings = List.copyOf(settings);
    this.paths = ClusterPaths.forCluster(name);
    this.logDir = Files.createDirectories(logDir).toAbsolutePath();
    this.dataRoot = Files.createTempDirectory(name + "-it-data");
    this.zookeeper = new TestingServer(true);
    this.observer = CuratorFrameworkFactory.builder()
        .connectString(zookeeper.getConnectString())
        .sessionTimeoutMs(30_000).connectionTimeoutMs(2_000).retryPolicy(new RetryOneTime(200))
        .build();
    observer.start();
  }

  /**
   * Starts ZooKeeper and {@code initialNodes} nodes (without waiting for them; see
   * {@link #awaitHealthy}).
   *
   * @param settings more {@code --set key=value} pairs for every node, as "key=value"
   */
  public static ProcessCluster start(String name, int initialNodes, int shards,
      List<String> settings, Path logDir) throws Exception {
    ProcessCluster c = new ProcessCluster(name, shards, initialNodes, settings, logDir);
    try {
      for (int i = 0; i < initialNodes; i++) {
        c.startNode(i);
      }
      return c;
    } catch (RuntimeException e) {
      c.close();
      throw e;
    }
  }

  public int shards() {
    return shards;
  }

  public String clusterName() {
    return name;
  }

  public String zkConnectString() {
    return zookeeper.getConnectString();
  }

  public Path logDir() {
    return logDir;
  }

  /** Node {@code i}'s data directory, kept across its restarts (delete it to lose the disk). */
  public Path dataDir(int i) {
    return dataRoot.resolve(nodeId(i));
  }

  /** Stops ZooKeeper (the nodes keep running; see "ZooKeeper outage" in docs/design.md). */
  public void stopZooKeeper() throws IOException {
    zookeeper.stop();
  }

  /** Starts ZooKeeper again on its port, with its data, after {@link #stopZooKeeper}. */
  public void restartZooKeeper() throws Exception {
    zookeeper.restart();
  }

  public int zkPort() {
    return zookeeper.getPort();
  }

  /** Node slots ever used: node-0 to node-(size - 1), running or not. */
  public int size() {
    return nodes.size();
  }

  public static String nodeId(int i) {
    return "node-" + i;
  }

  public static int index(String nodeId) {
    return Integer.parseInt(nodeId.substring("node-".length()));
  }

  /**
   * Starts node {@code i} on its data directory (kept across restarts); {@code i == size()}
   * adds a node, which joins the running cluster with no replicas.
   */
  public void startNode(int i) {
    if (i > nodes.size()) {
      throw new IllegalArgumentException("node-" + i + ": start node-" + nodes.size() + " first");
    }
    if (i == nodes.size()) {
      nodes.add(null);
      starts.add(0);
      paused.add(false);
      ports.add(new int[] {ServerProcess.freePort(), ServerProcess.freePort()});
    }
    if (nodes.get(i) != null) {
      throw new IllegalStateException("node-" + i + " runs already");
    }
    starts.set(i, starts.get(i) + 1);
    List<String> args = new ArrayList<>(List.of(
        "--zk", zookeeper.getConnectString(),
        "--cluster", name,
        "--node-id", nodeId(i),
        "--initial-nodes", Integer.toString(initialNodes),
        "--set", "storage.shards=" + shards));
    for (String s : settings) {
      args.add("--set");
      args.add(s);
    }
    nodes.set(i, ServerProcess.start(dataDir(i), logOf(i), args,
        ports.get(i)[0], ports.get(i)[1]));
    paused.set(i, false);
  }

  /** The process of node {@code i}, or null when it is not running. */
  public ServerProcess node(int i) {
    return nodes.get(i);
  }

  public boolean running(int i) {
    return i < nodes.size() && nodes.get(i) != null;
  }

  /** host:port of node {@code i}'s API; the node must run. */
  public String address(int i) {
    return ServerProcess.HOST + ":" + nodes.get(i).grpcPort();
  }

  /** The API addresses of the nodes that run and are not frozen. */
  public List<String> liveAddresses() {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i) != null && !paused.get(i)) {
        out.add(address(i));
      }
    }
    return out;
  }

  /** SIGKILL: the node stops at once, with no handover and no clean close. */
  public void kill(int i) {
    if (paused.get(i)) {
      resume(i); // a stopped process dies of SIGKILL too, but its exit is reported late
    }
    nodes.get(i).killHard();
    nodes.get(i).close();
    nodes.set(i, null);
  }

  /**
   * SIGTERM, as an admin's {@code systemctl stop}: the node hands its leaderships over, then
   * stops. Waits until it exits and returns its exit code.
   */
  public int terminate(int i, Duration wait) throws InterruptedException {
    ServerProcess n = nodes.get(i);
    n.terminate();
    if (!n.waitForExit(wait)) {
      throw new AssertionError("node-" + i + " still runs " + wait + " after SIGTERM\n"
          + tail(logOf(i), 40));
    }
    int code = n.exitCode();
    n.close();
    nodes.set(i, null);
    return code;
  }

  /**
   * Waits until node {@code i} exits by itself (a node that refuses to start) and returns its
   * exit code; the slot is free again afterwards.
   */
  public int awaitExit(int i, Duration wait) throws InterruptedException {
    ServerProcess n = nodes.get(i);
    if (!n.waitForExit(wait)) {
      throw new AssertionError("node-" + i + " still runs after " + wait + "\n"
          + tail(logOf(i), 40));
    }
    int code = n.exitCode();
    n.close();
    nodes.set(i, null);
    return code;
  }

  /** SIGSTOP: the node freezes (its ZooKeeper session runs on until the session timeout). */
  public void pause(int i) {
    nodes.get(i).pauseProcess();
    paused.set(i, true);
  }

  /** SIGCONT after {@link #pause}. */
  public void resume(int i) {
    nodes.get(i).resumeProcess();
    paused.set(i, false);
  }

  public boolean paused(int i) {
    return paused.get(i);
  }

  // ------------------------------------------------------------------- what ZooKeeper holds

  /** Every shard's state in ZooKeeper, or null if ZooKeeper does not answer. */
  public Map<Integer, ShardState> states() {
    try {
      Map<Integer, ShardState> out = new TreeMap<>();
      for (int s = 0; s < shards; s++) {
        out.put(s, ShardStateJson.fromJson(s, observer.getData().forPath(paths.shard(s))));
      }
      return out;
    } catch (Exception e) {
      return null;
    }
  }

  /** One shard's state, or null if ZooKeeper does not answer. */
  public ShardState state(int shard) {
    Map<Integer, ShardState> all = states();
    return all == null ? null : all.get(shard);
  }

  /** The live nodes' registrations, or null if ZooKeeper does not answer. */
  public Map<String, NodeRegistration> registrations() {
    try {
      Map<String, NodeRegistration> out = new TreeMap<>();
      for (String child : observer.getChildren().forPath(paths.nodes())) {
        try {
          out.put(child, NodeRegistration.fromJson(observer.getData().forPath(paths.node(child))));
        } catch (KeeperException.NoNodeException gone) {
          // Left between the listing and the read.
        }
      }
      return out;
    } catch (Exception e) {
      return null;
    }
  }

  /** The drained nodes ({@code drained/}), or null if ZooKeeper does not answer. */
  public Set<String> drainedNodes() {
    return children(paths.drained());
  }

  /** The decommissioned nodes ({@code decommissioned/}), or null if ZooKeeper does not answer. */
  public Set<String> decommissionedNodes() {
    return children(paths.decommissioned());
  }

  private Set<String> children(String path) {
    try {
      return new java.util.TreeSet<>(observer.getChildren().forPath(path));
    } catch (KeeperException.NoNodeException none) {
      return Set.of();
    } catch (Exception e) {
      return null;
    }
  }

  /** The node that set the controller epoch last, or -1. */
  public int controllerIndex() {
    try {
      String id = new String(observer.getData().forPath(paths.controllerEpoch()),
          StandardCharsets.UTF_8);
      return id.startsWith("node-") ? index(id) : -1;
    } catch (Exception e) {
      return -1;
    }
  }

  /** The controller epoch znode's version (one more per controller takeover), or -1. */
  public long controllerEpoch() {
    try {
      Stat stat = observer.checkExists().forPath(paths.controllerEpoch());
      return stat == null ? -1 : stat.getVersion();
    } catch (Exception e) {
      return -1;
    }
  }

  /** The shards {@code node} leads, as ZooKeeper says now (empty if it does not answer). */
  public Set<Integer> ledBy(int node) {
    Set<Integer> out = new java.util.TreeSet<>();
    Map<Integer, ShardState> st = states();
    if (st != null) {
      st.forEach((s, state) -> {
        if (state.isLeader(nodeId(node))) {
          out.add(s);
        }
      });
    }
    return out;
  }

  /** The shards {@code node} is a replica of (leader or follower). */
  public Set<Integer> replicatedBy(int node) {
    Set<Integer> out = new java.util.TreeSet<>();
    Map<Integer, ShardState> st = states();
    if (st != null) {
      st.forEach((s, state) -> {
        if (state.replicas().contains(nodeId(node))) {
          out.add(s);
        }
      });
    }
    return out;
  }

  // --------------------------------------------------------------------------------- waits

  /**
   * Whether every running node is ready and, in ZooKeeper, every shard has a leader and all
   * its replicas in sync, each with the store its node has open now.
   */
  public boolean healthy() {
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i) != null && (paused.get(i) || !ready(nodes.get(i)))) {
        return false;
      }
    }
    Map<Integer, ShardState> st = states();
    Map<String, NodeRegistration> regs = registrations();
    if (st == null || regs == null) {
      return false;
    }
    for (ShardState s : st.values()) {
      if (!s.hasLeader() || !s.isr().keySet().equals(Set.copyOf(s.replicas()))) {
        return false;
      }
      for (Map.Entry<String, String> m : s.isr().entrySet()) {
        NodeRegistration r = regs.get(m.getKey());
        if (r == null || !m.getValue().equals(r.stores().get(s.shard()))) {
          return false;
        }
      }
    }
    return true;
  }

  /** Until {@link #healthy}. */
  public void awaitHealthy(String what, Duration timeout) {
    awaitCondition(what + ": every node serving, every replica in sync", timeout, this::healthy);
  }

  /**
   * Polls {@code condition} every 50 ms until it holds; fails after {@code timeout} with the
   * shard states, the registrations and the tail of every node's log.
   */
  public void awaitCondition(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("not within " + timeout + ": " + what + "\nshard states: "
            + states() + "\nnodes: " + registrations() + "\nlogs: " + logDir + "\n"
            + logTails());
      }
      ServerProcess.pause(Duration.ofMillis(50));
    }
  }

  /**
   * The node's readiness on its ops port ({@code /health/ready}): false when it is fenced, not
   * caught up, or a replica it should lead is not in sync.
   */
  private boolean ready(ServerProcess n) {
    if (!n.isAlive()) {
      return false;
    }
    try {
      HttpResponse<Void> r = http.send(HttpRequest.newBuilder(
              URI.create("http://" + ServerProcess.HOST + ":" + n.opsPort() + "/health/ready"))
              .timeout(Duration.ofSeconds(1)).GET().build(),
          HttpResponse.BodyHandlers.discarding());
      return r.statusCode() == 200;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  // ---------------------------------------------------------------------------------- logs

  /** The log file of node {@code i}'s current (or last) start. */
  public Path logOf(int i) {
    return logDir.resolve(nodeId(i) + "." + starts.get(i) + ".log");
  }

  /** The last 30 lines of every node's current log. */
  public String logTails() {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < nodes.size(); i++) {
      b.append(tail(logOf(i), 30));
    }
    return b.toString();
  }

  private static String tail(Path log, int lines) {
    try {
      List<String> all = Files.readAllLines(log);
      StringBuilder b = new StringBuilder("---- " + log.getFileName() + " (last " + lines
          + " lines) ----\n");
      all.subList(Math.max(0, all.size() - lines), all.size())
          .forEach(l -> b.append(l).append('\n'));
      return b.toString();
    } catch (IOException e) {
      return "(cannot read " + log + ")\n";
    }
  }

  /** Stops every node (SIGKILL: the test is over), ZooKeeper, and deletes the data. */
  @Override
  public void close() {
    for (int i = 0; i < nodes.size(); i++) {
      ServerProcess n = nodes.get(i);
      if (n != null) {
        if (paused.get(i)) {
          n.resumeProcess();
        }
        n.close();
        nodes.set(i, null);
      }
    }
    observer.close();
    try {
      zookeeper.close();
    } catch (IOException e) {
      // Nothing to do about it at the end of a test.
    }
    try (Stream<Path> walk = Files.walk(dataRoot)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + dataRoot, e);
    }
  }
}
