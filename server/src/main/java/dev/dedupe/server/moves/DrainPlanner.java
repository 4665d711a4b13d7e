package dev.dedupe.server.moves;

import dev.dedupe.server.replication.ShardState;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The steps that empty one node (a drain, a decommission, a heal): first each leadership it
 * holds goes to another in-sync replica (live, not drained, fewest leaderships first), then
 * each replica it holds moves to the node {@link ReplicaChoice} picks. A shard whose leadership
 * no other replica can take now gets no transfer step: its move hands leadership to the target
 * once that is in sync. Pure and deterministic; refuses the whole plan, before anything is
 * created, when one replica has nowhere to go.
 */
public final class DrainPlanner {

  /** The request field that names the node, for INVALID_ARGUMENT answers. */
  public static final String NODE = "node_id";

  private DrainPlanner() {}

  /**
   * @param node the node to empty
   * @param transferLeaders whether to plan leadership transfers first (a heal's node is dead:
   *     it leads nothing, elections took its leaderships)
   * @param what "drain" or "decommission" or "heal", for refusals
   * @throws MoveRefusedException if {@code node} is not in the cluster, or a replica has
   *     nowhere to go
   */
  public static List<PlannedStep> plan(PlacementView view, String node, boolean transferLeaders,
      String what) {
    if (node == null || node.isBlank()) {
      throw MoveRefusedException.invalid(NODE, "node_id is required: the node to " + what);
    }
    boolean holds = view.shards().values().stream().anyMatch(s -> s.replicas().contains(node));
    if (!holds && !view.live(node)) {
      throw MoveRefusedException.invalid(NODE, "no node " + node + " in this cluster: it is"
          + " not registered and holds no replica (live: " + view.liveZones().keySet() + ")");
    }
    Map<String, Integer> counts = ReplicaChoice.replicaCounts(view);
    Map<String, Integer> leaders = new TreeMap<>();
    view.shards().values().stream().filter(ShardState::hasLeader)
        .forEach(s -> leaders.merge(s.leader(), 1, Integer::sum));
    List<PlannedStep> transfers = new ArrayList<>();
    List<PlannedStep> moves = new ArrayList<>();
    for (ShardState s : view.shards().values()) {
      if (!s.replicas().contains(node)) {
        continue;
      }
      if (transferLeaders && s.isLeader(node)) {
        Optional<String> to = s.replicas().stream()
            .filter(r -> !r.equals(node) && !view.drained().contains(r) && view.mayLead(s, r))
            .min(Comparator.comparingInt((String r) -> leaders.getOrDefault(r, 0))
                .thenComparing(Comparator.naturalOrder()));
        if (to.isPresent()) {
          transfers.add(new PlannedStep(MoveKind.TRANSFER_LEADER, s.shard(), node, to.get(),
              s.replicas()));
          leaders.merge(to.get(), 1, Integer::sum);
          leaders.merge(node, -1, Integer::sum);
        }
      }
      ReplicaChoice.Result target =
          ReplicaChoice.target(view, s.shard(), s.replicas(), node, counts);
      if (target.node().isEmpty()) {
        throw MoveRefusedException.precondition("cannot " + what + " " + node + ": shard "
            + s.shard() + "'s replica has nowhere to go: " + target.refusal()
            + ". Nothing was changed");
      }
      moves.add(new PlannedStep(MoveKind.MOVE, s.shard(), node, target.node().get(),
          s.replicas()));
      counts.merge(target.node().get(), 1, Integer::sum);
      counts.merge(node, -1, Integer::sum);
    }
    List<PlannedStep> steps = new ArrayList<>(transfers);
    steps.addAll(moves);
    return steps;
  }
}
