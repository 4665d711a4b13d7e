package dev.dedupe.server.cluster;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.apache.zookeeper.server.embedded.ExitHandler;
import org.apache.zookeeper.server.embedded.ZooKeeperServerEmbedded;

/**
 * A single ZooKeeper server inside this JVM, for {@code bin/dedupe dev --nodes N}: ZooKeeper's
 * own embedded server, not a test class. Production clusters use a real ensemble.
 */
public final class EmbeddedZooKeeper implements AutoCloseable {

  private final ZooKeeperServerEmbedded server;
  private final int port;

  private EmbeddedZooKeeper(ZooKeeperServerEmbedded server, int port) {
    this.server = server;
    this.port = port;
  }

  /** Starts a server on {@code port} on 127.0.0.1, keeping its data in {@code dir}. */
  public static EmbeddedZooKeeper start(Path dir, int port) {
    try {
      Files.createDirectories(dir);
      Properties config = new Properties();
      config.setProperty("clientPort", Integer.toString(port));
      config.setProperty("clientPortAddress", "127.0.0.1");
      config.setProperty("tickTime", "500");
      config.setProperty("admin.enableServer", "false");
      ZooKeeperServerEmbedded server = ZooKeeperServerEmbedded.builder()
          .baseDir(dir)
          .configuration(config)
          .exitHandler(ExitHandler.LOG_ONLY)
          .build();
      server.start();
      return new EmbeddedZooKeeper(server, port);
    } catch (Exception e) {
      throw new ClusterException("cannot start the embedded ZooKeeper on port " + port, e);
    }
  }

  public String connectString() {
    return "127.0.0.1:" + port;
  }

  @Override
  public void close() {
    server.close();
  }
}
