package dev.dedupe.server.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one {@code bin/dedupe} command in its own JVM, on the classpath {@link ServerProcess}
 * starts nodes with, so that a test drives the command line exactly as an admin types it.
 */
public final class CliProcess {

  /** What the command printed (stdout and stderr together) and its exit code. */
  public record Result(int exitCode, String output) {}

  private CliProcess() {}

  /**
   * Runs {@code bin/dedupe ARGS...} and waits for it; fails if it does not end within
   * {@code timeout} (the process is then killed).
   */
  public static Result run(Duration timeout, List<String> args) {
    List<String> command = new ArrayList<>(List.of(ServerProcess.javaBinary(),
        "--enable-native-access=ALL-UNNAMED", "-Xmx128m", "-XX:+UseSerialGC",
        "-cp", ServerProcess.serverClasspath(), "dev.dedupe.server.cli.Main"));
    command.addAll(args);
    try {
      // A file, not a pipe: a pipe nobody drains while we wait would block the command.
      Path out = Files.createTempFile("dedupe-cli", ".out");
      try {
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
            .redirectOutput(out.toFile()).start();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          p.destroyForcibly();
          throw new AssertionError("bin/dedupe " + args + " still running after " + timeout
              + "; it printed:\n" + Files.readString(out));
        }
        return new Result(p.exitValue(), Files.readString(out));
      } finally {
        Files.deleteIfExists(out);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run bin/dedupe " + args, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted running bin/dedupe " + args, e);
    }
  }
}
