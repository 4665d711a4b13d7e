package dev.dedupe.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.dedupe.server.DedupeNode;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A dedupe server in its own JVM, started the way {@code bin/dedupe server} starts it, so that
 * a test can kill it with SIGKILL: nothing in the server gets to run on the way down.
 *
 * <p>The server's output goes to a file, not a pipe: a pipe nobody drains would block the
 * server once full, and the file is still there to quote when something fails.
 */
public final class ServerProcess implements AutoCloseable {

  public static final String HOST = "127.0.0.1";
  /** Exit status of a process ended by SIGKILL (128 + 9), as the JDK reports it on Linux. */
  public static final int SIGKILL_EXIT = 137;

  private final Process process;
  private final int grpcPort;
  private final int opsPort;
  private final Path log;

  /** Ends the server if the test JVM exits without calling {@link #close} (a timeout, say). */
  private final Thread reaper;

  private ServerProcess(Process process, int grpcPort, int opsPort, Path log) {
    this.process = process;
    this.grpcPort = grpcPort;
    this.opsPort = opsPort;
    this.log = log;
    this.reaper = new Thread(process::destroyForcibly, "reap-server-" + process.pid());
    Runtime.getRuntime().addShutdownHook(reaper);
  }

  /**
   * Starts a server on {@code dataDir} with small caches, listening on 127.0.0.1 only, and
   * returns without waiting for it; call {@link #awaitServing}.
   *
   * @param log where the server's stdout and stderr go
   */
  public static ServerProcess start(Path dataDir, Path log) {
    return start(dataDir, log, List.of());
  }

  /**
   * As {@link #start(Path, Path)}, with more command-line arguments for {@code server} (for
   * example {@code --zk} and cluster settings).
   */
  public static ServerProcess start(Path dataDir, Path log, List<String> moreArgs) {
    return start(dataDir, log, moreArgs, freePort(), freePort());
  }

  /**
   * As {@link #start(Path, Path, List)}, on the given ports: a node restarted on the ports it
   * had, as a restarted service keeps its address.
   */
  public static ServerProcess start(Path dataDir, Path log, List<String> moreArgs, int grpcPort,
      int opsPort) {
    List<String> command = new ArrayList<>(List.of(
        javaBinary(),
        "--enable-native-access=ALL-UNNAMED",
        "-Xmx256m",
        "-XX:+UseSerialGC",
        "-cp", serverClasspath(),
        "dev.dedupe.server.cli.Main", "server",
        "--grpc-port", Integer.toString(grpcPort),
        "--ops-port", Integer.toString(opsPort),
        "--data-dir", dataDir.toString(),
        "--set", "storage.block-cache.bytes=32MiB",
        "--set", "storage.write-buffer.bytes=32MiB",
        "--set", "grpc.host=" + HOST,
        "--set", "ops.host=" + HOST));
    command.addAll(moreArgs);
    try {
      Process process = new ProcessBuilder(command)
          .redirectErrorStream(true)
          .redirectOutput(log.toFile())
          .start();
      return new ServerProcess(process, grpcPort, opsPort, log);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + command, e);
    }
  }

  public int grpcPort() {
    return grpcPort;
  }

  public int opsPort() {
    return opsPort;
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** Waits for the process to exit by itself; false if it still runs after {@code timeout}. */
  public boolean waitForExit(Duration timeout) throws InterruptedException {
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  public int exitCode() {
    return process.exitValue();
  }

  /** A plaintext Netty channel to the server's gRPC port; the caller shuts it down. */
  public ManagedChannel newChannel() {
    return NettyChannelBuilder.forAddress(HOST, grpcPort).usePlaintext().build();
  }

  /**
   * Waits until the gRPC health service answers SERVING, which the node reports only once
   * every shard is open and the API is bound. Fails with the server's output if the process
   * exits or the timeout passes first.
   */
  public void awaitServing(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    ManagedChannel channel = newChannel();
    try {
      HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
      String last = "no answer yet";
      while (System.nanoTime() < deadline) {
        if (!process.isAlive()) {
          fail("server exited with status " + process.exitValue() + " before serving\n" + output());
        }
        try {
          ServingStatus status = health.withDeadlineAfter(1, TimeUnit.SECONDS)
              .check(HealthCheckRequest.getDefaultInstance()).getStatus();
          if (status == ServingStatus.SERVING) {
            return;
          }
          last = status.name();
        } catch (StatusRuntimeException e) {
          // Not listening yet (UNAVAILABLE) or still starting: ask again shortly.
          last = e.getStatus().toString();
        }
        pause(Duration.ofMillis(100));
      }
      fail("server not SERVING within " + timeout + " (last health answer: " + last + ")\n"
          + output());
    } finally {
      channel.shutdownNow();
    }
  }

  /**
   * Sends SIGKILL with kill(1), so that the signal is explicit rather than whatever
   * {@link Process#destroyForcibly} maps to, and waits until the process is gone.
   */
  public void killHard() {
    signal("KILL");
    try {
      assertTrue(process.waitFor(10, TimeUnit.SECONDS), "server still running after SIGKILL");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
    assertEquals(SIGKILL_EXIT, process.exitValue(), "exit status after SIGKILL\n" + output());
  }

  /**
   * Sends SIGTERM, as {@code systemctl stop} or Ctrl-C would: the node hands its leaderships
   * over, drains and stops. Returns at once; {@link #waitForExit} waits for the exit.
   */
  public void terminate() {
    signal("TERM");
  }

  /** Freezes the whole process with SIGSTOP, as a long GC pause or a stalled VM would. */
  public void pauseProcess() {
    signal("STOP");
  }

  /** Lets a process frozen by {@link #pauseProcess} run again (SIGCONT). */
  public void resumeProcess() {
    signal("CONT");
  }

  /** Sends a signal with kill(1), so that the signal is exactly the one named. */
  private void signal(String name) {
    try {
      Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid()))
          .redirectErrorStream(true).start();
      String said = new String(kill.getInputStream().readAllBytes());
      assertTrue(kill.waitFor(10, TimeUnit.SECONDS), "kill -" + name + " did not return");
      assertEquals(0, kill.exitValue(), "kill -" + name + " " + process.pid() + " failed: " + said);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Everything the server printed so far. */
  public String output() {
    try {
      return "---- server output (" + log + ") ----\n" + Files.readString(log) + "---- end ----";
    } catch (IOException e) {
      return "(cannot read server output " + log + ": " + e + ")";
    }
  }

  /** Ends the process if it still runs; for clean-up after a test, pass or fail. */
  @Override
  public void close() {
    try {
      Runtime.getRuntime().removeShutdownHook(reaper);
    } catch (IllegalStateException alreadyExiting) {
      // The hook runs anyway.
    }
    if (process.isAlive()) {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The JDK running this test, so that the server runs on the same Java version. */
  static String javaBinary() {
    return ProcessHandle.current().info().command()
        .orElseThrow(() -> new IllegalStateException("cannot tell which java runs this test"));
  }

  /**
   * The server's classes (the jar or directory this JVM loaded them from) plus its runtime
   * dependencies, listed in target/classpath.txt by the package phase.
   */
  static String serverClasspath() {
    try {
      Path classes = Path.of(
          DedupeNode.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      Path listFile = classes.getParent().resolve("classpath.txt");
      if (!Files.isRegularFile(listFile)) {
        throw new IllegalStateException(
            listFile + " is missing; run the package phase first (./mvnw package or verify)");
      }
      return classes + java.io.File.pathSeparator + Files.readString(listFile).trim();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A port that was free a moment ago. Another process could take it before the server binds
   * it; the server then fails to start and {@link #awaitServing} reports its output.
   */
  public static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static void pause(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
