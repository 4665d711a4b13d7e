package dev.dedupe.server.cluster;

import static dev.dedupe.server.cluster.ClusterFixture.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.dedupe.server.DedupeNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.parallel.Isolated;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Stopping cluster nodes, with ZooKeeper up and with ZooKeeper down: a stop must be prompt
 * (an orchestrator's SIGTERM is followed by SIGKILL), and a normal stop is not an error.
 */
@Isolated("reads or changes the global logging state")
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ClusterShutdownTest {

  /**
   * A node cut off from ZooKeeper used to take over 8 s to stop, blocked in Curator calls that
   * wait for a connection. A bound well under that, and far over a prompt stop on a busy machine.
   */
  private static final Duration PROMPT = Duration.ofSeconds(4);

  @TempDir Path dir;
  private ClusterFixture cluster;
  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private final Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);

  @AfterEach
  void stop() throws Exception {
    root.detachAppender(logs);
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aNodeCutOffFromZooKeeperStopsPromptly() throws Exception {
    cluster = new ClusterFixture(dir, 2, 4);
    cluster.awaitServing();
    cluster.zookeeper.stop();
    await("every node has fenced itself", () -> cluster.running().stream()
        .allMatch(n -> n.clusterMember().isFenced()));

    for (int i = 0; i < cluster.size(); i++) {
      long start = System.nanoTime();
      cluster.stop(i);
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      assertTrue(took.compareTo(PROMPT) < 0, "node-" + i + " took " + took + " to stop while"
          + " ZooKeeper was down; a stop must not wait for a connection");
    }
  }

  @Test
  void aNormalStopLogsNoError() throws Exception {
    cluster = new ClusterFixture(dir, 2, 4);
    cluster.awaitServing();
    logs.start();
    root.addAppender(logs);

    for (int i = 0; i < cluster.size(); i++) {
      cluster.stop(i);
    }

    assertEquals(List.of(), logs.list.stream().filter(e -> e.getLevel() == Level.ERROR)
        .map(e -> "[" + e.getThreadName() + "] " + e.getLoggerName() + ": "
            + e.getFormattedMessage()).toList(),
        "stopping a node is not an error");
  }

  @Test
  void aNodeStoppedWhileTheClusterFormsLogsNoError() throws Exception {
    // One of two initial nodes: its controller is elected and waits for the second, so the
    // stop interrupts a takeover in progress.
    cluster = new ClusterFixture(dir, 2, 4, 1);
    DedupeNode node = cluster.node(0);
    await("node-0 is the controller and waits for node-1",
        () -> node.clusterMember().controller().isLeader()
            && node.clusterMember().controller().epoch() >= 0);
    logs.start();
    root.addAppender(logs);

    cluster.stop(0);
    // What the takeover thread logs as it stops counts too, even if the stop did not wait.
    await("node-0's controller thread has stopped", () -> Thread.getAllStackTraces().keySet()
        .stream().noneMatch(t -> t.getName().equals("controller-node-0") && t.isAlive()));

    assertEquals(List.of(), logs.list.stream().filter(e -> e.getLevel() == Level.ERROR)
        .map(e -> "[" + e.getThreadName() + "] " + e.getLoggerName() + ": "
            + e.getFormattedMessage()).toList(),
        "stopping a node is not an error");
  }
}
