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

  /** The per-node columns, in print order; text shows "keys_held" as "keys held". */
  private static final List<String> NODE_COLUMNS = List.of(
      "node", "address", "keys_held", "bytes_held", "effective_window", "oldest_bucket");

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
        // The node's id under the proto's name, so that scripts read one vocabulary.
        n.forEach((k, v) -> node.add(k.equals("node") ? "node_id" : k, v));
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

  /** One node's row: its figures, or "-" for each and then its error. */
  private static Map<String, String> figures(NodeNamespaceStats n) {
    boolean answered = n.getError().isEmpty();
    Map<String, String> row = new LinkedHashMap<>();
    // A standalone node has no id; "-" keeps the columns readable.
    row.put("node", n.getNodeId().isEmpty() ? "-" : n.getNodeId());
    row.put("address", n.getAddress().isEmpty() ? "-" : n.getAddress());
    row.put("keys_held", answered ? Long.toString(n.getKeysHeld()) : "-");
    row.put("bytes_held", answered ? Long.toString(n.getBytesHeld()) : "-");
    row.put("effective_window",
        answered ? Durations.human(duration(n.getEffectiveWindow())) : "-");
    row.put("oldest_bucket", !answered ? "-"
        : n.hasOldestBucketStart() ? IdCommand.instant(n.getOldestBucketStart()) : "none");
    if (!answered) {
      row.put("error", n.getError());
    }
    return row;
  }

  /** Aligned columns under a header; an error, when there is one, ends its row. */
  private static void printTable(PrintWriter out, List<Map<String, String>> rows) {
    int[] widths = new int[NODE_COLUMNS.size()];
    for (int c = 0; c < widths.length; c++) {
      String column = NODE_COLUMNS.get(c);
      widths[c] = label(column).length();
      for (Map<String, String> row : rows) {
        widths[c] = Math.max(widths[c], row.get(column).length());
      }
    }
    out.println(line(NODE_COLUMNS.stream().map(StatsCommand::label).toList(), widths, ""));
    for (Map<String, String> row : rows) {
      out.println(line(NODE_COLUMNS.stream().map(row::get).toList(), widths,
          row.getOrDefault("error", "")));
    }
  }

  private static String line(List<String> cells, int[] widths, String end) {
    StringBuilder line = new StringBuilder();
    for (int c = 0; c < cells.size(); c++) {
      line.append(cells.get(c)).append(" ".repeat(widths[c] - cells.get(c).length() + 2));
    }
    return line.append(end).toString().stripTrailing();
  }

  /** A name as text output shows it: keys_held reads "keys held". */
  private static String label(String name) {
    return name.replace('_', ' ');
  }

  private static Duration duration(com.google.protobuf.Duration d) {
    return Duration.ofNanos(com.google.protobuf.util.Durations.toNanos(d));
  }
}
