package dev.dedupe.loadbench;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import org.slf4j.bridge.SLF4JBridgeHandler;
import picocli.CommandLine;

/**
 * {@code bin/dedupe bench OPTIONS}: the launcher runs this class, with this module's class path,
 * for its {@code bench} command and passes the options after the word {@code bench}. It parses
 * them with picocli ({@link BenchCli}) and maps every failure to one line on standard error and
 * an exit code, as the server's commands do ({@code dev.dedupe.server.cli.Main}), never a stack
 * trace:
 *
 * <ul>
 *   <li>0: done (or --help, --version);
 *   <li>1: the run failed (a node that cannot start, an unreadable result file, ...);
 *   <li>2: the command line was wrong (unknown option, malformed value, options that do not go
 *       together).
 * </ul>
 */
public final class Main {

  static final int FAILED = 1;
  static final int USAGE = 2;

  private Main() {}

  public static void main(String[] args) {
    // gRPC logs through java.util.logging; send it to the same place and format as Jedis's SLF4J.
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
    System.exit(run(args, System.out, System.err));
  }

  /** Runs one command line; returns the exit code. */
  static int run(String[] args, PrintStream out, PrintStream err) {
    CommandLine cli = configure(new CommandLine(new BenchCli(out, err)));
    cli.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
    cli.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
    return cli.execute(args);
  }

  /** The parsing rules and the error handling of {@code bin/dedupe bench}. */
  static CommandLine configure(CommandLine cli) {
    // As before picocli: an option given twice takes its last value, so a script can append
    // an override to a command line it was given.
    cli.setOverwrittenOptionsAllowed(true);
    BenchCli.sectionTheHelp(cli);
    cli.setParameterExceptionHandler((e, args) -> {
      PrintWriter w = e.getCommandLine().getErr();
      w.println("dedupe: " + firstLine(e.getMessage()));
      CommandLine.UnmatchedArgumentException.printSuggestions(e, w);
      w.println("Run 'bin/dedupe bench --help' for usage.");
      return USAGE;
    });
    cli.setExecutionExceptionHandler((e, command, parsed) -> {
      command.getErr().println("dedupe: " + describe(e));
      return e instanceof CommandLine.ParameterException ? USAGE : FAILED;
    });
    return cli;
  }

  /**
   * A failure in one line: its message and, for an I/O failure (whose message says what was
   * being done: "cannot write the result file ..."), the operating system's reason.
   */
  static String describe(Throwable e) {
    if (e instanceof InterruptedException) {
      return "interrupted";
    }
    String message = e.getMessage() == null ? e.getClass().getSimpleName() : firstLine(e.getMessage());
    Throwable cause = e instanceof UncheckedIOException ? e.getCause() : null;
    String because = switch (cause) {
      case null -> null;
      case NoSuchFileException missing -> "no such file";
      case AccessDeniedException denied -> "permission denied";
      case FileSystemException fs when fs.getReason() != null -> fs.getReason();
      default -> cause.getMessage() == null ? null : firstLine(cause.getMessage());
    };
    if (because != null && !message.contains(because)) {
      message += ": " + because;
    }
    return message;
  }

  private static String firstLine(String text) {
    return text.lines().findFirst().orElse(text);
  }
}
