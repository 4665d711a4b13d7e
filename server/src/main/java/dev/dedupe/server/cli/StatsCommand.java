package dev.dedupe.server.cli;

import dev.dedupe.v1.GetNamespaceStatsRequest;
import dev.dedupe.v1.GetNamespaceStatsResponse;
import dev.dedupe.v1.NodeNamespaceStats;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code bin/dedupe stats}: GetNamespaceStats, cluster totals then one row per node. */
@Command(name = "stats", mixinStandardHelpOptions = true,
    description = {"GetNamespaceStats: keys and bytes held, the window, and the window in force.",
        "In a cluster, the node called (--target) asks every other node and prints the totals,"
            + " then one row per node. Exit code 3 when some node could not be asked: the"
            + " totals then leave its shards out, and its row says why."})
final class StatsCommand implements Callable<Integer> {

  /**
   * The per-node columns, in print order; text shows "keys_held" as "keys held", and adds the
   * error column only when some node has an error.
   */
  private static final List<String> NODE_COLUMNS = List.of("node_id", "address", "keys_held",
      "bytes_held", "effective_window", "oldest_bucket", "error");

  @Spec CommandSpec spec;

  @Mixin CallOptions call;

  @Parameters(index = "0", paramLabel = "NAMESPACE", description = "The namespace.")
  String namespace;

  @Override
  public Integer call() {
    String target = call.target();
    GetNamespaceStatsResponse s = NodeCalls.call(target, stub -> stub.getNamespaceStats(
        GetNamespaceStatsRequest.newBuilder().setNamespace(namespace).build()));
    Map<String, String> totals = new LinkedHashMap<>();
    totals.put("asked", target);
    totals.put("namespace", s.getNamespace());
    totals.put("keys_held", Long.toString(s.getKeysHeld()));
    totals.put("bytes_held", Long.toString(s.getBytesHeld()));
    totals.put("window", Durations.human(duration(s.getWindow())));
    totals.put("effective_window", Durations.human(duration(s.getEffectiveWindow())));
    totals.put("oldest_bucket",
        s.hasOldestBucketStart() ? IdCommand.instant(s.getOldestBucketStart()) : "none");
    List<Map<String, String>> nodes = new ArrayList<>();
    for (NodeNamespaceStats n : s.getNodesList()) {
      nodes.add(figures(n));
    }
    PrintWriter out = spec.commandLine().getOut();
    if (call.output == CallOptions.Output.json) {
      JsonObjectBuilder o = Json.createObjectBuilder();
      totals.forEach(o::add);
      o.add("nodes_unanswered", Integer.toString(s.getNodesUnanswered()));
      JsonArrayBuilder array = Json.createArrayBuilder();
      for (Map<String, String> n : nodes) {
        JsonObjectBuilder node = Json.createObjectBuilder();
        // A figure the node did not give is left out, not printed as a made-up value.
        n.forEach((k, v) -> {
          if (v != null) {
            node.add(k, v);
          }
        });
        array.add(node);
      }
      out.println(o.add("nodes", array).build());
    } else {
      totals.put("nodes_answered",
          (s.getNodesCount() - s.getNodesUnanswered()) + " of " + s.getNodesCount());
      int width = totals.keySet().stream().mapToInt(String::length).max().orElse(0);
      totals.forEach((k, v) -> out.println(label(k) + " ".repeat(width - k.length() + 2) + v));
      out.println();
      printTable(out, nodes);
    }
    out.flush();
    return s.getNodesUnanswered() > 0 ? Main.SOME_IDS_FAILED : 0;
  }

  /** One node's figures by column; null where the node gave none (it could not be asked). */
  private static Map<String, String> figures(NodeNamespaceStats n) {
    boolean answered = n.getError().isEmpty();
    Map<String, String> row = new LinkedHashMap<>();
    row.put("node_id", n.getNodeId());
    row.put("address", n.getAddress().isEmpty() ? null : n.getAddress());
    row.put("keys_held", answered ? Long.toString(n.getKeysHeld()) : null);
    row.put("bytes_held", answered ? Long.toString(n.getBytesHeld()) : null);
    row.put("effective_window",
        answered ? Durations.human(duration(n.getEffectiveWindow())) : null);
    row.put("oldest_bucket", !answered ? null
        : n.hasOldestBucketStart() ? IdCommand.instant(n.getOldestBucketStart()) : "none");
    row.put("error", answered ? null : n.getError());
    return row;
  }

  /** Aligned columns under a header, "-" where a node gave no figure. */
  private static void printTable(PrintWriter out, List<Map<String, String>> rows) {
    boolean errors = rows.stream().anyMatch(r -> r.get("error") != null);
    List<String> columns = errors ? NODE_COLUMNS : NODE_COLUMNS.subList(0, NODE_COLUMNS.size() - 1);
    List<List<String>> lines = new ArrayList<>();
    // "node", not "node id": a standalone node has no id and shows "-".
    lines.add(columns.stream().map(c -> c.equals("node_id") ? "node" : label(c)).toList());
    for (Map<String, String> row : rows) {
      lines.add(columns.stream().map(c -> {
        String v = row.get(c);
        return v == null || v.isEmpty() ? "-" : v;
      }).toList());
    }
    int[] widths = new int[columns.size()];
    for (List<String> cells : lines) {
      for (int c = 0; c < widths.length; c++) {
        widths[c] = Math.max(widths[c], cells.get(c).length());
      }
    }
    for (List<String> cells : lines) {
      StringBuilder line = new StringBuilder();
      for (int c = 0; c < cells.size(); c++) {
        line.append(cells.get(c)).append(" ".repeat(widths[c] - cells.get(c).length() + 2));
      }
      out.println(line.toString().stripTrailing());
    }
  }

  /** A name as text output shows it: keys_held reads "keys held". */
  private static String label(String name) {
    return name.replace('_', ' ');
  }

  private static Duration duration(com.google.protobuf.Duration d) {
    return Duration.ofNanos(com.google.protobuf.util.Durations.toNanos(d));
  }
}
