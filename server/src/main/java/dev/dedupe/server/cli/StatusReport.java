package dev.dedupe.server.cli;

import dev.dedupe.server.copy.ByteRate;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code admin status} as text: the controller, the node table with each node's counts and
 * flags, the shards that are not ok (every shard with {@code all}), and last what the cluster
 * needs, one line each, so that the end of the output is the answer. Pure, so that tests read
 * it.
 */
final class StatusReport {

  private static final String NODES = "%-14s %-22s %-10s %-11s %-8s %-7s %-9s %s%n";
  private static final String SHARD_LISTS = "%-14s %-24s %s%n";
  private static final String SHARDS = "%-6s %-14s %-6s %-36s %s%n";

  private StatusReport() {}

  /**
   * @param all list every shard, and each node's shards, rather than only the shards that are
   *     not ok
   */
  static String render(ClusterStatus s, boolean all) {
    StringBuilder out = new StringBuilder();
    out.append("cluster ").append(s.cluster()).append(" at ").append(s.zk()).append('\n');
    out.append(s.controller().map(c -> "controller " + c + " (controller epoch "
        + s.controllerEpoch() + ")").orElse("controller none elected yet")).append("\n\n");
    nodes(s, all, out);
    out.append('\n');
    if (!s.formed()) {
      out.append("shards: not formed yet (the controller waits for its initial nodes and for"
          + " replication-factor live nodes)\n");
    } else {
      shards(s, all, out);
    }
    List<String> summary = summary(s);
    if (!summary.isEmpty()) {
      out.append('\n');
      summary.forEach(line -> out.append(line).append('\n'));
    }
    return out.toString();
  }

  private static void nodes(ClusterStatus s, boolean all, StringBuilder out) {
    out.append(String.format(NODES, "NODE", "GRPC", "ZONE", "HEALTH", "REPLICAS", "LEADERS",
        "PREFERRED", "FLAGS"));
    for (ClusterStatus.Node n : s.nodes()) {
      out.append(String.format(NODES, n.id(), n.grpc(), n.zone(), n.health(), n.replicas(),
          n.leaders(), n.preferred(), n.flags().isEmpty() ? "-"
              : String.join(", ", n.flags().stream().map(f -> f.label).toList())));
    }
    if (!s.decommissionedGone().isEmpty()) {
      out.append("decommissioned, gone for good: ")
          .append(String.join(", ", s.decommissionedGone())).append('\n');
    }
    if (all && s.formed()) {
      out.append('\n').append(String.format(SHARD_LISTS, "NODE", "LEADS", "REPLICA OF"));
      for (ClusterStatus.Node n : s.nodes()) {
        out.append(String.format(SHARD_LISTS, n.id(), n.leads(), n.replicaOf()));
      }
    }
  }

  private static void shards(ClusterStatus s, boolean all, StringBuilder out) {
    List<ClusterStatus.Shard> shown = s.shards().stream()
        .filter(x -> all || x.health() != ClusterStatus.ShardHealth.OK).toList();
    if (shown.isEmpty()) {
      out.append("all ").append(s.shards().size()).append(" shards ok: fully replicated, with a"
          + " live leader ('admin status --all' lists them)\n");
      return;
    }
    out.append(all ? "shards (* = replica not in sync):\n"
        : "shards not ok (* = replica not in sync; 'admin status --all' lists every shard):\n");
    out.append(String.format(SHARDS, "SHARD", "LEADER", "EPOCH", "REPLICAS", "STATUS"));
    for (ClusterStatus.Shard x : shown) {
      String replicas = String.join(",", x.replicas().stream()
          .map(r -> x.inSync().contains(r) ? r : r + "*").toList());
      out.append(String.format(SHARDS, x.shard(), x.leader().isEmpty() ? "(none)" : x.leader(),
          x.epoch(), replicas, status(x)));
    }
    out.append(String.format("%d shards: %d fully replicated, %d under-replicated, %d offline%n",
        s.shards().size(), s.count(ClusterStatus.ShardHealth.OK),
        s.count(ClusterStatus.ShardHealth.UNDER_REPLICATED),
        s.count(ClusterStatus.ShardHealth.OFFLINE)));
  }

  private static String status(ClusterStatus.Shard x) {
    String head = switch (x.health()) {
      case OK -> "ok";
      case UNDER_REPLICATED -> "UNDER-REPLICATED: " + x.replicas().stream()
          .filter(r -> !x.inSync().contains(r)).toList() + " not in sync";
      case OFFLINE -> "OFFLINE: no in-sync replica is live (last in sync: "
          + String.join(", ", x.inSync()) + ")";
    };
    return x.note().isEmpty() ? head : head + "; " + x.note();
  }

  /**
   * What the cluster needs, worst first; "healthy" only when it needs nothing. The throttle is
   * said either way: it slows the next move, and it outlives the moves it was set for only
   * until the next one ends.
   */
  static List<String> summary(ClusterStatus s) {
    List<String> lines = new ArrayList<>();
    long offline = s.count(ClusterStatus.ShardHealth.OFFLINE);
    long under = s.count(ClusterStatus.ShardHealth.UNDER_REPLICATED);
    if (offline > 0) {
      lines.add("OFFLINE: " + shards(offline) + " (no leader: writes and checks fail)");
    }
    if (under > 0) {
      lines.add("UNDER-REPLICATED: " + shards(under));
    }
    if (s.unbalanced()) {
      int changes = s.rebalanceMoves() + s.rebalanceTransfers();
      lines.add("UNBALANCED: a rebalance would make " + changes
          + (changes == 1 ? " change" : " changes") + " (" + s.rebalanceMoves()
          + " replica " + (s.rebalanceMoves() == 1 ? "move" : "moves") + ", "
          + s.rebalanceTransfers() + " leadership "
          + (s.rebalanceTransfers() == 1 ? "transfer" : "transfers")
          + "; see 'admin rebalance --dry-run'"
          + (s.plansRunning().isEmpty() ? "" : " once the plans running end") + ")");
    }
    if (!s.plansRunning().isEmpty()) {
      lines.add("plans running: " + s.plansRunning().size() + " ("
          + String.join(", ", s.plansRunning()) + "; see 'admin plans')");
    }
    if (s.movesRunning() > 0) {
      int pending = s.movesPending();
      lines.add("moves running: " + s.movesRunning() + " (" + (pending == 0 ? ""
          : (s.movesRunning() - pending) + " under way, " + pending + " waiting their turn; ")
          + "see 'admin moves')");
    }
    if (lines.isEmpty() && s.formed()) {
      lines.add("healthy: every shard fully replicated, balanced, nothing running");
    }
    s.throttleBytesPerSecond().ifPresent(rate -> lines.add("throttle: "
        + ByteRate.format(rate) + " per node ('admin throttle clear' lifts it)"));
    return lines;
  }

  private static String shards(long n) {
    return n + (n == 1 ? " shard" : " shards");
  }
}
