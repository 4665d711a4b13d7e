package dev.dedupe.loadbench;

import java.io.UncheckedIOException;
import java.util.Arrays;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * {@code bin/dedupe bench OPTIONS}: the launcher runs this class, with this module's class path,
 * for its {@code bench} command and passes the options after the word {@code bench}. Exit codes
 * and messages are those of the server's commands ({@code dev.dedupe.server.cli.Main}): 2 and
 * the usage for wrong options, 1 for a failure.
 */
public final class Main {

  private Main() {}

  public static void main(String[] args) {
    // gRPC logs through java.util.logging; send it to the same place and format as Jedis's SLF4J.
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
    int code;
    try {
      code = BenchCommand.run(Arrays.asList(args), System.out, System.err);
    } catch (BenchCommand.UsageError e) {
      System.err.println("dedupe: " + e.getMessage());
      System.err.println("run 'bin/dedupe help' for usage");
      code = 2;
    } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException e) {
      System.err.println("dedupe: " + e.getMessage());
      code = 1;
    }
    System.exit(code);
  }
}
