package dev.dedupe.loadbench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A dedupe node that the benchmark starts for itself, as a child process (so that its resident
 * memory is its own, not the benchmark client's), on 127.0.0.1 and free ports, with the same
 * JVM as the benchmark, the server's class path and the launcher's heap settings unless told
 * otherwise.
 */
final class EmbeddedServer implements AutoCloseable {

  /** How long a node may take to open its shards and report ready. */
  private static final Duration START_LIMIT = Duration.ofMinutes(5);

  /**
   * The system property that holds the server's class path; bin/dedupe sets it. The node is
   * started by class name ({@link #SERVER_MAIN}), so this module needs no dependency on the
   * server. Without the property, this JVM's own class path is used, which must then hold the
   * server.
   */
  static final String SERVER_CLASSPATH_PROPERTY = "dedupe.server.classpath";

  /** {@code bin/dedupe}'s commands in the server; the node runs as {@code ... Main server}. */
  static final String SERVER_MAIN = "dev.dedupe.server.cli.Main";

  private final Process process;
  private final Path dataDir;
  private final int grpcPort;
  private final int opsPort;
  private final String durability;

  private EmbeddedServer(Process process, Path dataDir, int grpcPort, int opsPort, String durability) {
    this.process = process;
    this.dataDir = dataDir;
    this.grpcPort = grpcPort;
    this.opsPort = opsPort;
    this.durability = durability;
  }

  /**
   * Starts a node on {@code dataDir} and waits until it is ready.
   *
   * @param javaOptions JVM options for the node (heap, JFR, ...)
   * @param settings extra configuration, KEY=VALUE each (passed as --set)
   * @param log where the node's output goes (appended)
   */
  static EmbeddedServer start(Path dataDir, String durability, List<String> javaOptions,
      List<String> settings, Path log) {
    EmbeddedServer server = launch(dataDir, durability, javaOptions, settings, log);
    server.awaitReady(log);
    return server;
  }

  /**
   * Starts a node as {@link #start} does without waiting for it: the nodes of a cluster are
   * ready only once enough of them have joined, so they are all launched, then awaited
   * ({@link #awaitReady}).
   */
  static EmbeddedServer launch(Path dataDir, String durability, List<String> javaOptions,
      List<String> settings, Path log) {
    int grpcPort = freePort();
    int opsPort = freePort();
    List<String> command = serverJvm(javaOptions);
    command.addAll(List.of(SERVER_MAIN, "server",
        "--grpc-port", Integer.toString(grpcPort), "--ops-port", Integer.toString(opsPort),
        "--data-dir", dataDir.toString(),
        "--set", "grpc.host=127.0.0.1", "--set", "ops.host=127.0.0.1",
        "--set", "storage.durability=" + durability));
    for (String kv : settings) {
      command.add("--set");
      command.add(kv);
    }
    Process process;
    try {
      Files.createDirectories(log.toAbsolutePath().getParent());
      process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start a dedupe node: " + e.getMessage(), e);
    }
    return new EmbeddedServer(process, dataDir, grpcPort, opsPort, durability);
  }

  /**
   * The start of a command line that runs a class of the server's class path: this JVM's java,
   * {@code javaOptions}, and the class path; the main class and its arguments go after it.
   */
  static List<String> serverJvm(List<String> javaOptions) {
    String java = ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> command = new ArrayList<>();
    command.add(java);
    command.add("--enable-native-access=ALL-UNNAMED");
    command.addAll(javaOptions);
    String home = System.getProperty("dedupe.home");
    if (home != null) {
      command.add("-Ddedupe.home=" + home);
    }
    String classPath = System.getProperty(SERVER_CLASSPATH_PROPERTY,
        System.getProperty("java.class.path"));
    command.addAll(List.of("-cp", classPath));
    return command;
  }

  /**
   * Waits until the node reports ready on its ops port (a cluster's node: once the cluster has
   * formed and it serves what it leads); stops it and throws if it exits or takes longer than
   * five minutes.
   */
  void awaitReady(Path log) {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + opsPort + "/health/ready"))
        .timeout(Duration.ofSeconds(5)).build();
    long deadline = System.nanoTime() + START_LIMIT.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "the dedupe node exited with code " + process.exitValue() + " while starting; see " + log);
      }
      try {
        if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      sleep(200);
    }
    close();
    throw new IllegalStateException("the dedupe node was not ready within " + START_LIMIT + "; see " + log);
  }

  String grpcTarget() {
    return "127.0.0.1:" + grpcPort;
  }

  String opsAddress() {
    return "127.0.0.1:" + opsPort;
  }

  long pid() {
    return process.pid();
  }

  String durability() {
    return durability;
  }

  /** VmRSS of the node from /proc, in bytes, or -1 where /proc is not available. */
  long residentBytes() {
    return ProcStatus.residentBytes(process.pid());
  }

  /** Bytes of table files (*.sst) under the data directory. */
  long sstBytes() {
    return bytesOf(".sst");
  }

  /** Bytes of write-ahead logs (NNNNNN.log) under the data directory. */
  long walBytes() {
    return bytesOf(".log");
  }

  private long bytesOf(String suffix) {
    try (Stream<Path> files = Files.walk(dataDir)) {
      return files.filter(f -> f.getFileName().toString().endsWith(suffix) && Files.isRegularFile(f))
          .mapToLong(f -> {
            try {
              return Files.size(f);
            } catch (IOException e) {
              return 0; // deleted by compaction or WAL recycling while we walked
            }
          }).sum();
    } catch (IOException | UncheckedIOException e) {
      return -1;
    }
  }

  /** Stops the node as SIGTERM does (it drains and syncs), and waits for it. */
  @Override
  public void close() {
    ChildProcess.stop(process, Duration.ofMinutes(2));
  }

  static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot find a free port", e);
    }
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
