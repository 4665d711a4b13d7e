package dev.dedupe.server.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.slf4j.bridge.SLF4JBridgeHandler;
import picocli.CommandLine;

/**
 * {@code bin/dedupe}: parses the command line with picocli and maps every failure to one line
 * on standard error and an exit code (never a stack trace):
 *
 * <ul>
 *   <li>0: done;
 *   <li>1: the command failed (unreachable node, a refused call, a node that cannot start);
 *   <li>2: the command line was wrong (unknown flag, missing value, malformed number);
 *   <li>3: the call went through, but some ids failed (per-id UNAVAILABLE or lease lost).
 * </ul>
 */
public final class Main {

  static final int FAILED = 1;
  static final int USAGE = 2;
  static final int SOME_IDS_FAILED = 3;

  private Main() {}

  public static void main(String[] args) {
    boolean runsANode = args.length > 0 && List.of("server", "dev").contains(args[0]);
    if (!runsANode && System.getProperty("dedupe.log.level") == null) {
      // Commands print results, not the transport's or ZooKeeper client's chatter.
      System.setProperty("dedupe.log.level", "ERROR");
      System.setProperty("dedupe.log.root", "ERROR");
    }
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
    System.exit(run(args, System.out, System.err));
  }

  /** Runs one command line; returns the exit code. */
  static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length > 0 && args[0].equals("bench")) {
      // The load benchmark is its own module (load-bench/), a client of the API that the
      // server must not depend on; bin/dedupe runs it from that module's class path.
      err.println("dedupe: 'bench' runs from the load-bench module: use 'bin/dedupe bench', or"
          + " run dev.dedupe.loadbench.Main on load-bench's class path");
      return USAGE;
    }
    return commandLine(out, err).execute(args);
  }

  static CommandLine commandLine(PrintStream out, PrintStream err) {
    CommandLine cli = new CommandLine(new DedupeCommand());
    cli.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
    cli.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
    cli.setParameterExceptionHandler((e, args) -> {
      PrintWriter w = e.getCommandLine().getErr();
      w.println("dedupe: " + e.getMessage());
      CommandLine.UnmatchedArgumentException.printSuggestions(e, w);
      String command = e.getCommandLine().getCommandSpec().qualifiedName(" ")
          .replaceFirst("^dedupe ?", "");
      w.println("Run 'bin/dedupe " + (command.isEmpty() ? "" : command + " ") + "--help' for usage.");
      return USAGE;
    });
    cli.setExecutionExceptionHandler((e, command, parsed) -> {
      command.getErr().println("dedupe: " + Failures.describe(e));
      return e instanceof CommandLine.ParameterException ? USAGE : FAILED;
    });
    return cli;
  }
}
