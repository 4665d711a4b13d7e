package dev.dedupe.loadbench;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import redis.clients.jedis.Jedis;

/**
 * A private redis-server for the comparison run: 127.0.0.1, a free port, a fresh directory,
 * and the persistence a fair comparison needs: {@code appendonly yes}, {@code appendfsync
 * everysec} (the AOF is fsynced once a second, so up to a second of acknowledged writes can be
 * lost on power loss), and no RDB snapshots.
 */
final class RedisServer implements AutoCloseable {

  static final String PERSISTENCE = "appendonly yes, appendfsync everysec, no RDB snapshots";

  private final Process process;
  private final int port;

  private RedisServer(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /** redis-server on the PATH, if there is one. */
  static Optional<Path> find() {
    String path = System.getenv().getOrDefault("PATH", "");
    for (String dir : path.split(File.pathSeparator)) {
      Path candidate = Path.of(dir.isEmpty() ? "." : dir, "redis-server");
      if (Files.isExecutable(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  static RedisServer start(Path executable, Path dir, Path log) {
    return start(executable, dir, log, List.of());
  }

  /**
   * Starts one with further arguments after the usual ones: {@code --replicaof 127.0.0.1 PORT}
   * makes a replica of the server on PORT.
   */
  static RedisServer start(Path executable, Path dir, Path log, List<String> moreArguments) {
    int port = EmbeddedServer.freePort();
    List<String> command = new java.util.ArrayList<>(List.of(executable.toString(),
        "--port", Integer.toString(port), "--bind", "127.0.0.1",
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        "--dir", dir.toString(), "--daemonize", "no", "--logfile", ""));
    command.addAll(moreArguments);
    Process process;
    try {
      Files.createDirectories(dir);
      process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start redis-server: " + e.getMessage(), e);
    }
    RedisServer server = new RedisServer(process, port);
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("redis-server exited while starting; see " + log);
      }
      try (Jedis jedis = new RedisDriver("127.0.0.1", port).connect()) {
        if ("PONG".equals(jedis.ping())) {
          return server;
        }
      } catch (RuntimeException e) {
        // not listening yet
      }
      EmbeddedServer.sleep(100);
    }
    server.close();
    throw new IllegalStateException("redis-server did not answer within 30 s; see " + log);
  }

  int port() {
    return port;
  }

  long pid() {
    return process.pid();
  }

  @Override
  public void close() {
    ChildProcess.stop(process, Duration.ofSeconds(60));
  }
}
