package dev.dedupe.server.cli;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.config.ConfigLoader;
import dev.dedupe.server.config.ServerConfig;
import java.time.InstantSource;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code bin/dedupe server}: one node, standalone or in a cluster, until SIGTERM or Ctrl-C. */
@Command(name = "server", mixinStandardHelpOptions = true,
    description = {"Run a node, standalone or (with --zk) in a cluster.",
        "Settings: docs/configuration.md and deploy/dedupe.example.yaml."})
final class ServerCommand implements Callable<Integer> {

  @Mixin NodeOptions node;

  @Override
  public Integer call() {
    ServerConfig config = ConfigLoader.load(node.configFile, node.settings(), System.getenv());
    runUntilStopped(DedupeNode.start(config, InstantSource.system()), n -> { });
    return 0;
  }

  /**
   * Runs {@code node} until the JVM is asked to stop (SIGTERM, Ctrl-C), then closes it: drain
   * calls in flight, finish every shard's queue, sync the WALs.
   */
  static void runUntilStopped(DedupeNode node, java.util.function.Consumer<DedupeNode> started) {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      node.close();
      stopped.countDown();
    }, "shutdown"));
    started.accept(node);
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
