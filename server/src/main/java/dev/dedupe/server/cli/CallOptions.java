package dev.dedupe.server.cli;

import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** The flags every command that calls a node takes: where, and how to print the answer. */
final class CallOptions {

  /** How results are printed. */
  enum Output { text, json }

  @Spec(Spec.Target.MIXEE)
  CommandSpec spec;

  @Option(names = "--target", paramLabel = "HOST:PORT",
      defaultValue = "${env:DEDUPE_TARGET:-localhost:50051}",
      description = "The node to call (default: $DEDUPE_TARGET or localhost:50051). In a"
          + " cluster, any node: ids owned elsewhere are sent on to their owner.")
  String target;

  @Option(names = "--output", paramLabel = "FORMAT", defaultValue = "text",
      description = "text (aligned columns, for people) or json (one array, for scripts).")
  Output output;

  /** The target, checked: host:port with a port from 1 to 65535. */
  String target() {
    int colon = target.lastIndexOf(':');
    String host = colon > 0 ? target.substring(0, colon) : "";
    String port = colon > 0 ? target.substring(colon + 1) : "";
    boolean valid = !host.isBlank() && port.matches("\\d{1,5}")
        && Integer.parseInt(port) >= 1 && Integer.parseInt(port) <= 65535
        && !host.contains("/") && !host.contains(" ");
    if (!valid) {
      throw new ParameterException(spec.commandLine(),
          "--target must be HOST:PORT (for example localhost:50051), was '" + target + "'");
    }
    return target;
  }
}
