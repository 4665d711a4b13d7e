package dev.dedupe.loadbench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A single ZooKeeper server for the clusters of the {@code --replication} suite, as a child
 * process: ZooKeeper's own {@code ZooKeeperServerMain} from the server's class path (which holds
 * ZooKeeper), so this module needs no dependency on it, and its CPU is its own, apart from the
 * nodes' and the benchmark client's. On 127.0.0.1 and a free port, its admin server off.
 */
final class ZooKeeperProcess implements AutoCloseable {

  static final String MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain";

  private final Process process;
  private final int port;

  private ZooKeeperProcess(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /**
   * Starts one keeping its data in {@code dir}, and waits until it accepts connections.
   *
   * @param log where its output goes (appended)
   */
  static ZooKeeperProcess start(Path dir, Path log) {
    int port = EmbeddedServer.freePort();
    Path config = dir.resolve("zoo.cfg");
    List<String> command = EmbeddedServer.serverJvm(List.of("-Xms64m", "-Xmx256m"));
    command.addAll(List.of(MAIN, config.toString()));
    Process process;
    try {
      Files.createDirectories(dir.resolve("data"));
      Files.writeString(config, config(dir.resolve("data"), port));
      Files.createDirectories(log.toAbsolutePath().getParent());
      process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start ZooKeeper: " + e.getMessage(), e);
    }
    ZooKeeperProcess zk = new ZooKeeperProcess(process, port);
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("ZooKeeper exited with code " + process.exitValue()
            + " while starting; see " + log);
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 500);
        return zk;
      } catch (IOException e) {
        // not listening yet
      }
      EmbeddedServer.sleep(200);
    }
    zk.close();
    throw new IllegalStateException("ZooKeeper did not listen within 60 s; see " + log);
  }

  /**
   * Its configuration: a standalone server on 127.0.0.1 only. tickTime is ZooKeeper's default
   * (2 s), so that the nodes' 15 s session timeout (cluster.session-timeout.seconds) is within
   * the 4 to 40 s it grants.
   */
  static String config(Path dataDir, int port) {
    return String.join("\n",
        "tickTime=2000",
        "dataDir=" + dataDir,
        "clientPort=" + port,
        "clientPortAddress=127.0.0.1",
        "maxClientCnxns=0",
        "admin.enableServer=false",
        "");
  }

  String connectString() {
    return "127.0.0.1:" + port;
  }

  long pid() {
    return process.pid();
  }

  @Override
  public void close() {
    ChildProcess.stop(process, Duration.ofSeconds(30));
  }
}
