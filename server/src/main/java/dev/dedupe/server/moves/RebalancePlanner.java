package dev.dedupe.server.moves;

import dev.dedupe.server.replication.ShardState;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A rebalance: the fewest replica moves that even out replicas over the live, non-drained
 * nodes (the most and the fewest differ by at most one, where the shards allow it), then the
 * leadership transfers that even out preferred leaders the same way (Kafka's preferred-replica
 * election: a shard's first replica is its preferred leader, and the controller's automatic
 * leader balance returns leadership to it; a transfer makes its target the first replica).
 * Pure and deterministic: nodes and shards are taken in sorted order, ties to the smaller id.
 *
 * <p>Replicas on nodes that are dead or drained are left alone: their drain or their heal moves
 * them. A move never puts two replicas of a shard on one node, never targets a dead or drained
 * node, and never lowers the number of distinct zones a shard's replicas are in. Each move
 * takes one replica from a node above its target to a node below it, so each lowers the
 * excess by one: no plan with fewer moves reaches the same balance. Where zones (or shards
 * already on the target) forbid every such move, a move from a node with the most to one with
 * at least two fewer takes a detour: with zones the plan may be a move or two longer than the
 * unconstrained minimum.
 *
 * <p>The plan's leadership transfers start before its moves (job-id order), so a transfer's
 * target is a replica that is in sync now and stays one; the model below applies them after
 * the moves, which ends with the same leaders.
 */
public final class RebalancePlanner {

  /** Replicas and preferred leaders a node holds. */
  public record Counts(int replicas, int leaders) {}

  /**
   * @param steps the jobs, leadership transfers first, then moves, in the order they start
   * @param before per node (live or holding a replica), as the cluster is now (actual leaders)
   * @param after per node, once the plan is done and leaders are back on preferred replicas
   */
  public record Result(List<PlannedStep> steps, Map<String, Counts> before,
      Map<String, Counts> after) {}

  private RebalancePlanner() {}

  public static Result plan(PlacementView view) {
    List<String> eligible = view.eligible();
    Map<Integer, List<String>> replicas = new TreeMap<>();
    view.shards().forEach((s, state) -> replicas.put(s, new ArrayList<>(state.replicas())));
    Map<String, Counts> before = counts(view, replicas, true);
    List<PlannedStep> moves = new ArrayList<>();
    Set<Integer> moved = new TreeSet<>();
    if (eligible.size() > 1) {
      Map<String, Integer> targets = targets(eligible, count(eligible, replicas));
      int bound = replicas.values().stream().mapToInt(List::size).sum() * 2;
      for (int i = 0; i < bound; i++) {
        PlannedStep move = nextMove(view, eligible, replicas, moved, targets);
        if (move == null) {
          break;
        }
        List<String> r = replicas.get(move.shard());
        boolean sourceLeads = leadsInModel(view, r, move.shard(), move.from());
        r.remove(move.from());
        if (sourceLeads) {
          r.add(0, move.to()); // the move hands leadership to its target, which becomes first
        } else {
          r.add(move.to());
        }
        moves.add(move);
        moved.add(move.shard());
      }
    }
    List<PlannedStep> transfers = new ArrayList<>();
    if (eligible.size() > 1) {
      Set<Integer> transferred = new TreeSet<>();
      for (int i = 0; i < view.shards().size(); i++) {
        PlannedStep t = nextTransfer(view, eligible, replicas, transferred);
        if (t == null) {
          break;
        }
        List<String> r = replicas.get(t.shard());
        r.remove(t.to());
        r.add(0, t.to());
        transfers.add(t);
        transferred.add(t.shard());
      }
    }
    List<PlannedStep> steps = new ArrayList<>(transfers);
    steps.addAll(moves);
    return new Result(List.copyOf(steps), before, counts(view, replicas, false));
  }

  /** Replicas per eligible node in {@code replicas}. */
  private static Map<String, Integer> count(List<String> eligible,
      Map<Integer, List<String>> replicas) {
    Map<String, Integer> count = new TreeMap<>();
    eligible.forEach(n -> count.put(n, 0));
    replicas.values().forEach(r -> r.forEach(n -> count.computeIfPresent(n, (k, c) -> c + 1)));
    return count;
  }

  /**
   * What each node should end with: the total spread evenly, the nodes that hold the most now
   * keeping the extra ones, so that moving only from nodes above their target to nodes below
   * it moves no replica twice: the minimum.
   */
  private static Map<String, Integer> targets(List<String> eligible, Map<String, Integer> count) {
    int total = count.values().stream().mapToInt(Integer::intValue).sum();
    List<String> order = eligible.stream().sorted(Comparator.comparingInt((String n) ->
        -count.get(n)).thenComparing(Comparator.naturalOrder())).toList();
    Map<String, Integer> targets = new TreeMap<>();
    for (int i = 0; i < order.size(); i++) {
      targets.put(order.get(i), total / order.size() + (i < total % order.size() ? 1 : 0));
    }
    return targets;
  }

  /**
   * One replica from a node above its target to one below it; when the shards allow none of
   * those (every shard of the one is on the other already, or zones forbid it), from a node
   * with the most to one with at least two fewer; null when even.
   */
  private static PlannedStep nextMove(PlacementView view, List<String> eligible,
      Map<Integer, List<String>> replicas, Set<Integer> moved, Map<String, Integer> targets) {
    Map<String, Integer> count = count(eligible, replicas);
    Map<String, Integer> leads = new TreeMap<>();
    eligible.forEach(n -> leads.put(n, 0));
    replicas.values().forEach(r -> leads.computeIfPresent(r.get(0), (k, c) -> c + 1));
    List<String> most = eligible.stream().sorted(Comparator.comparingInt((String n) ->
        -count.get(n)).thenComparing(Comparator.naturalOrder())).toList();
    List<String> fewest = eligible.stream().sorted(Comparator.comparingInt((String n) ->
        count.get(n)).thenComparing(Comparator.naturalOrder())).toList();
    for (String src : most) {
      for (String dst : fewest) {
        if (count.get(src) > targets.get(src) && count.get(dst) < targets.get(dst)) {
          PlannedStep move = movableShard(view, replicas, moved, src, dst,
              leads.get(dst) < leads.get(src) - 1);
          if (move != null) {
            return move;
          }
        }
      }
    }
    for (String src : most) {
      for (String dst : fewest) {
        if (count.get(src) - count.get(dst) <= 1) {
          break; // the rest of fewest have as many or more
        }
        PlannedStep move = movableShard(view, replicas, moved, src, dst,
            leads.get(dst) < leads.get(src) - 1);
        if (move != null) {
          return move;
        }
      }
    }
    return null;
  }

  /**
   * A shard of {@code src} that may move to {@code dst}: one not moved yet whose leadership
   * goes along when {@code dst} needs leaders ({@code wantLeader}: a move of a leading replica
   * hands leadership to its target, the only way a node that joined empty gets some before
   * the plan's transfers, which run first) and stays otherwise; then one not moved yet; then any.
   */
  private static PlannedStep movableShard(PlacementView view,
      Map<Integer, List<String>> replicas, Set<Integer> moved, String src, String dst,
      boolean wantLeader) {
    PlannedStep best = null;
    int bestRank = Integer.MAX_VALUE;
    for (Map.Entry<Integer, List<String>> e : replicas.entrySet()) {
      List<String> r = e.getValue();
      if (!r.contains(src) || r.contains(dst) || !keepsZones(view, r, src, dst)) {
        continue;
      }
      boolean leads = leadsInModel(view, r, e.getKey(), src);
      int rank = (moved.contains(e.getKey()) ? 2 : 0) + (leads == wantLeader ? 0 : 1);
      if (rank < bestRank) {
        bestRank = rank;
        best = new PlannedStep(MoveKind.MOVE, e.getKey(), src, dst, r);
      }
    }
    return best;
  }

  /**
   * Whether {@code src} leads the shard when its move starts, so that the move hands the
   * leadership to the target: it leads now and is still the first replica in the model.
   */
  private static boolean leadsInModel(PlacementView view, List<String> replicas, int shard,
      String src) {
    return replicas.get(0).equals(src) && view.shards().get(shard).isLeader(src);
  }

  /** Whether replacing {@code src} by {@code dst} keeps as many distinct zones as before. */
  static boolean keepsZones(PlacementView view, List<String> replicas, String src, String dst) {
    List<String> after = new ArrayList<>(replicas);
    after.set(after.indexOf(src), dst);
    return distinctZones(view, after) >= distinctZones(view, replicas);
  }

  private static long distinctZones(PlacementView view, List<String> replicas) {
    return replicas.stream().map(view::zone).filter(z -> !z.isEmpty()).distinct().count();
  }

  /** One preferred leadership from a node with the most to one with the fewest, or null. */
  private static PlannedStep nextTransfer(PlacementView view, List<String> eligible,
      Map<Integer, List<String>> replicas, Set<Integer> transferred) {
    Map<String, Integer> leads = new TreeMap<>();
    eligible.forEach(n -> leads.put(n, 0));
    replicas.values().forEach(r -> leads.computeIfPresent(r.get(0), (k, c) -> c + 1));
    List<String> most = eligible.stream().sorted(Comparator.comparingInt((String n) ->
        -leads.get(n)).thenComparing(Comparator.naturalOrder())).toList();
    for (String src : most) {
      for (Map.Entry<Integer, List<String>> e : replicas.entrySet()) {
        int shard = e.getKey();
        ShardState now = view.shards().get(shard);
        if (!e.getValue().get(0).equals(src) || transferred.contains(shard)
            || !now.hasLeader()) {
          continue;
        }
        String to = e.getValue().stream()
            .filter(r -> !r.equals(src) && leads.containsKey(r) && now.replicas().contains(r)
                && !now.isLeader(r) && view.mayLead(now, r)
                && leads.get(r) < leads.get(src) - 1)
            .min(Comparator.comparingInt((String r) -> leads.get(r))
                .thenComparing(Comparator.naturalOrder()))
            .orElse(null);
        if (to != null) {
          return new PlannedStep(MoveKind.TRANSFER_LEADER, shard, now.leader(), to,
              now.replicas());
        }
      }
    }
    return null;
  }

  /** Per node: replicas, and leaders (actual ones now, or first replicas after the plan). */
  private static Map<String, Counts> counts(PlacementView view,
      Map<Integer, List<String>> replicas, boolean actualLeaders) {
    Map<String, int[]> c = new TreeMap<>();
    view.liveZones().keySet().forEach(n -> c.put(n, new int[2]));
    replicas.forEach((shard, r) -> {
      r.forEach(n -> c.computeIfAbsent(n, k -> new int[2])[0]++);
      ShardState now = view.shards().get(shard);
      String leader = actualLeaders ? (now.hasLeader() ? now.leader() : null) : r.get(0);
      if (leader != null) {
        c.computeIfAbsent(leader, k -> new int[2])[1]++;
      }
    });
    Map<String, Counts> out = new LinkedHashMap<>();
    c.forEach((n, v) -> out.put(n, new Counts(v[0], v[1])));
    return out;
  }
}
