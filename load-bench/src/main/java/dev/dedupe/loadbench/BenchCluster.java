package dev.dedupe.loadbench;

import dev.dedupe.client.DedupeClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A dedupe cluster that the {@code --replication} suite starts: {@code nodes} nodes, each its own
 * child process ({@link EmbeddedServer}) on 127.0.0.1 with its own ports and temporary data
 * directory, joined through one ZooKeeper under their own {@code cluster.name}, so that several
 * clusters can share it. The replication factor and the minimum in-sync replicas are set when
 * the cluster forms, and the nodes wait for each other ({@code cluster.initial-nodes}).
 */
final class BenchCluster implements AutoCloseable {

  private final String name;
  private final List<EmbeddedServer> nodes = new ArrayList<>();
  private final List<Path> dataDirs = new ArrayList<>();
  private final boolean keepData;
  private final String zk;

  private BenchCluster(String name, String zk, boolean keepData) {
    this.name = name;
    this.zk = zk;
    this.keepData = keepData;
  }

  /**
   * Launches every node, then waits until each is ready (the cluster has formed and it serves
   * what it leads) and a call through the Java client has been answered.
   *
   * @param settings the nodes' further settings (KEY=VALUE each), before the cluster's own
   * @param logDir where each node's log goes ({@code NAME-node-N.log})
   */
  static BenchCluster start(String name, int nodeCount, int replicationFactor,
      int minInsyncReplicas, String zk, String durability, List<String> javaOptions,
      List<String> settings, Path logDir, boolean keepData, String namespace) {
    BenchCluster cluster = new BenchCluster(name, zk, keepData);
    try {
      List<Path> logs = new ArrayList<>();
      for (int i = 1; i <= nodeCount; i++) {
        Path dir = ScratchDirs.create("dedupe-bench-" + name + "-node-" + i);
        cluster.dataDirs.add(dir);
        Path log = logDir.resolve(name + "-node-" + i + ".log");
        logs.add(log);
        cluster.nodes.add(EmbeddedServer.launch(dir, durability, javaOptions,
            nodeSettings(settings, name, i, nodeCount, replicationFactor, minInsyncReplicas, zk),
            log));
      }
      for (int i = 0; i < nodeCount; i++) {
        cluster.nodes.get(i).awaitReady(logs.get(i));
      }
      cluster.probe(namespace);
      return cluster;
    } catch (RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  /** The settings of node {@code i} (1-based): the caller's, then the cluster's own. */
  static List<String> nodeSettings(List<String> settings, String name, int i, int nodeCount,
      int replicationFactor, int minInsyncReplicas, String zk) {
    List<String> all = new ArrayList<>(settings);
    all.addAll(List.of("cluster.zk=" + zk, "cluster.name=" + name,
        "cluster.node-id=node-" + i, "cluster.initial-nodes=" + nodeCount,
        "cluster.replication-factor=" + replicationFactor,
        "cluster.min-insync-replicas=" + minInsyncReplicas));
    return all;
  }

  /**
   * One call of a few hundred ids through the Java client, which reaches every shard's leader;
   * retried for up to two minutes while the cluster settles (leaders elected, in-sync sets
   * written).
   */
  private void probe(String namespace) {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 256; i++) {
      ids.add("bench-probe-" + i);
    }
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    RuntimeException last = null;
    while (System.nanoTime() < deadline) {
      try (DedupeClient client = DedupeClient.builder().targets(grpcTargets()).build()) {
        client.checkAndInsert(namespace, ids);
        return;
      } catch (RuntimeException e) {
        last = e;
        EmbeddedServer.sleep(1_000);
      }
    }
    throw new IllegalStateException("cluster " + name + " did not answer a call within 2 minutes: "
        + (last == null ? "" : Main.describe(last)), last);
  }

  String name() {
    return name;
  }

  /** The nodes' gRPC addresses, for the client's seeds. */
  List<String> grpcTargets() {
    return nodes.stream().map(EmbeddedServer::grpcTarget).toList();
  }

  long[] pids() {
    return nodes.stream().mapToLong(EmbeddedServer::pid).toArray();
  }

  /**
   * Writes {@code bin/dedupe admin status --all} of this cluster (its controller, each shard's leader,
   * replicas and in-sync set, from ZooKeeper) to {@code file}, run as a child process from the
   * server's class path; best effort: a note in the file if it fails.
   */
  void writeStatus(Path file) {
    List<String> command = EmbeddedServer.serverJvm(List.of("-Xmx128m"));
    // --all: every shard's row, not only those that are not ok, as the comparison needs.
    command.addAll(List.of(EmbeddedServer.SERVER_MAIN, "admin", "status", "--all", "--zk", zk,
        "--cluster", name));
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.to(file.toFile())).start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        Files.writeString(file, "\n(admin status did not finish within 60 s)\n",
            java.nio.file.StandardOpenOption.APPEND);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run admin status for " + name, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops every node (SIGTERM: each drains and syncs), then removes their data. */
  @Override
  public void close() {
    for (EmbeddedServer node : nodes.reversed()) {
      node.close();
    }
    nodes.clear();
    if (!keepData) {
      dataDirs.forEach(ScratchDirs::delete);
    }
  }

  List<Path> dataDirs() {
    return List.copyOf(dataDirs);
  }

}
