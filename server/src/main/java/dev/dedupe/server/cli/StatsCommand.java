package dev.dedupe.server.cli;

import dev.dedupe.v1.GetNamespaceStatsRequest;
import dev.dedupe.v1.GetNamespaceStatsResponse;
import jakarta.json.Json;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code bin/dedupe stats}: GetNamespaceStats of the node called. */
@Command(name = "stats", mixinStandardHelpOptions = true,
    description = {"GetNamespaceStats: keys and bytes held, the window, and the window in force.",
        "In a cluster, the figures are those of the node called (--target)."})
final class StatsCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin CallOptions call;

  @Parameters(index = "0", paramLabel = "NAMESPACE", description = "The namespace.")
  String namespace;

  @Override
  public Integer call() {
    String target = call.target();
    GetNamespaceStatsResponse s = NodeCalls.call(target, stub -> stub.getNamespaceStats(
        GetNamespaceStatsRequest.newBuilder().setNamespace(namespace).build()));
    Map<String, String> figures = new LinkedHashMap<>();
    figures.put("node", target);
    figures.put("namespace", s.getNamespace());
    figures.put("keys_held", Long.toString(s.getKeysHeld()));
    figures.put("bytes_held", Long.toString(s.getBytesHeld()));
    figures.put("window", Durations.human(duration(s.getWindow())));
    figures.put("effective_window", Durations.human(duration(s.getEffectiveWindow())));
    figures.put("oldest_bucket",
        s.hasOldestBucketStart() ? IdCommand.instant(s.getOldestBucketStart()) : "none");
    PrintWriter out = spec.commandLine().getOut();
    if (call.output == CallOptions.Output.json) {
      var o = Json.createObjectBuilder();
      figures.forEach(o::add);
      out.println(o.build());
    } else {
      int width = figures.keySet().stream().mapToInt(String::length).max().orElse(0);
      figures.forEach((k, v) -> out.println(k.replace('_', ' ')
          + " ".repeat(width - k.length() + 2) + v));
    }
    out.flush();
    return 0;
  }

  private static Duration duration(com.google.protobuf.Duration d) {
    return Duration.ofNanos(com.google.protobuf.util.Durations.toNanos(d));
  }
}
