package dev.dedupe.server.cli;

import dev.dedupe.server.cluster.ClusterPaths;
import dev.dedupe.server.cluster.ClusterState;
import dev.dedupe.server.cluster.NodeRegistration;
import dev.dedupe.server.cluster.ShardStates;
import dev.dedupe.server.copy.Throttle;
import dev.dedupe.server.moves.MoveJob;
import dev.dedupe.server.moves.Plan;
import dev.dedupe.server.replication.ShardState;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.curator.framework.CuratorFramework;

/**
 * What {@code admin status} reads, before anything is made of it: the cluster's znodes and each
 * live node's readiness. {@link ClusterStatus#of} derives the rest, so that tests build a
 * reading by hand.
 *
 * @param cluster the cluster's name, as asked
 * @param zk the ZooKeeper address, as asked
 * @param controller the controller's node id, or empty before one is elected
 * @param controllerEpoch the controller epoch (its znode's version); 0 without a controller
 * @param shards every shard's state; empty before the cluster formed
 * @param live the registered nodes' registrations
 * @param health per live node, what its ops port's {@code /health/ready} said: READY, NOT
 *     READY or UNREACHABLE
 * @param drained the nodes marked drained
 * @param decommissioned the nodes decommissioned
 * @param moves the move jobs kept, running and finished
 * @param plans the plans kept, running and finished
 * @param throttleBytesPerSecond the copy throttle in force, if one is set
 */
record StatusReading(String cluster, String zk, Optional<String> controller, int controllerEpoch,
    SortedMap<Integer, ShardState> shards, Map<String, NodeRegistration> live,
    Map<String, String> health, Set<String> drained, Set<String> decommissioned,
    List<MoveJob> moves, List<Plan> plans, OptionalLong throttleBytesPerSecond) {

  /** How long status waits for one node's readiness before it calls the node UNREACHABLE. */
  private static final Duration PROBE_WAIT = Duration.ofSeconds(2);

  StatusReading {
    shards = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(shards));
    live = Map.copyOf(live);
    health = Map.copyOf(health);
    drained = java.util.Collections.unmodifiableSet(new TreeSet<>(drained));
    decommissioned = java.util.Collections.unmodifiableSet(new TreeSet<>(decommissioned));
    moves = List.copyOf(moves);
    plans = List.copyOf(plans);
  }

  /** Reads the cluster under {@code paths}, which must exist. */
  static StatusReading read(CuratorFramework zk, ClusterPaths paths, String cluster,
      String zkAddress) throws Exception {
    Optional<String> controller = Optional.empty();
    int epoch = 0;
    var epochStat = zk.checkExists().forPath(paths.controllerEpoch());
    if (epochStat != null) {
      controller = Optional.of(new String(zk.getData().forPath(paths.controllerEpoch()),
          StandardCharsets.UTF_8));
      epoch = epochStat.getVersion();
    }
    SortedMap<Integer, ShardState> shards = new TreeMap<>(ClusterState.readShardStates(zk, paths)
        .map(ShardStates::states).orElse(Map.of()));
    Map<String, NodeRegistration> live = ClusterState.liveRegistrations(zk, paths);
    return new StatusReading(cluster, zkAddress, controller, epoch, shards, live, probe(live),
        ClusterState.drainedNodes(zk, paths), ClusterState.decommissionedNodes(zk, paths),
        ClusterState.moveJobs(zk, paths), ClusterState.plans(zk, paths),
        ClusterState.throttle(zk, paths).map(t -> OptionalLong.of(t.bytesPerSecond()))
            .orElse(OptionalLong.empty()));
  }

  /** Each live node's readiness, asked of its ops port. */
  private static Map<String, String> probe(Map<String, NodeRegistration> live) {
    HttpClient http = HttpClient.newBuilder().connectTimeout(PROBE_WAIT).build();
    Map<String, String> health = new TreeMap<>();
    live.forEach((id, r) -> health.put(id, ready(http, r.ops())));
    return health;
  }

  private static String ready(HttpClient http, String opsAddress) {
    try {
      HttpResponse<Void> r = http.send(HttpRequest.newBuilder(
              URI.create("http://" + opsAddress + "/health/ready"))
          .timeout(PROBE_WAIT).build(), HttpResponse.BodyHandlers.discarding());
      return r.statusCode() == 200 ? "READY" : "NOT READY";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "UNREACHABLE";
    } catch (Exception e) {
      return "UNREACHABLE";
    }
  }
}
