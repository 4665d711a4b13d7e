package dev.dedupe.server.cli;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.config.ConfigLoader;
import dev.dedupe.server.config.ServerConfig;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.slf4j.bridge.SLF4JBridgeHandler;

/** The commands behind {@code bin/dedupe}. */
public final class Main {

  static final String USAGE = """
      usage: bin/dedupe COMMAND [ARGS]

      Run a node:
        server [--config FILE] [--grpc-port N] [--ops-port N] [--data-dir DIR] [--set KEY=VALUE]...
               [--zk HOST:PORT[,...] [--cluster NAME] [--node-id ID] [--initial-nodes N]]
                           run a node, standalone or in a cluster; settings: docs/configuration.md
        dev [same flags]   run a local node on embedded defaults (127.0.0.1, data in data/dev)
        dev --nodes N [--zk-port 2181]
                           run an embedded ZooKeeper and N clustered nodes (data in data/dev-cluster)
        admin status [--zk HOST:PORT] [--cluster NAME]
                           the cluster's nodes, their health, the controller and the shard map
        admin accept-data-loss --shard N [--zk HOST:PORT] [--cluster NAME]
                           a shard LOST on its owner (its store was replaced by an empty one):
                           serve it from the empty store; its acknowledged ids may be NEW again

      Call a node (--target HOST:PORT, default $DEDUPE_TARGET or localhost:50051):
        insert [--token T] [--lease SECONDS] [--fingerprint TEXT] NAMESPACE ID...
                                 CheckAndInsert: NEW, DUPLICATE, IN_PROGRESS or CONFLICT per id
        check NAMESPACE ID...    Check: what insert would answer; records nothing
        commit --token T [--result TEXT] NAMESPACE ID...
                                 Commit leased ids, storing a result for later duplicates
        release --token T NAMESPACE ID...   Release leased ids so that a retry can do the work
        forget NAMESPACE ID...   Forget: the next insert of each id is NEW
        stats NAMESPACE          GetNamespaceStats: keys, bytes, window in force
        (an ID of - reads ids from standard input, one per line)

      Measure (the load-bench module; bin/dedupe runs dev.dedupe.loadbench.Main for it):
        bench [OPTIONS]          drive a node with batched CheckAndInsert: ids/s, latency
                                 p50/p99/p99.9, memory and disk per key, at each --preload
                                 size, optionally --vs-redis; 'bench --help' lists the options
      """;

  private Main() {}

  public static void main(String[] args) {
    if (args.length > 0 && !args[0].equals("server") && !args[0].equals("dev")
        && System.getProperty("dedupe.log.level") == null) {
      // Client commands print results, not the transport's chatter.
      System.setProperty("dedupe.log.level", "WARN");
    }
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
    int code;
    try {
      code = run(args, System.out, System.err);
    } catch (UsageException e) {
      System.err.println("dedupe: " + e.getMessage());
      System.err.println("run 'bin/dedupe help' for usage");
      code = 2;
    } catch (IllegalArgumentException | IllegalStateException | java.io.UncheckedIOException e) {
      System.err.println("dedupe: " + e.getMessage());
      code = 1;
    }
    System.exit(code);
  }

  static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 0) {
      err.print(USAGE);
      return 2;
    }
    String command = args[0];
    List<String> rest = Arrays.asList(args).subList(1, args.length);
    return switch (command) {
      case "server" -> serve(rest, false, out);
      case "dev" -> serve(rest, true, out);
      case "admin" -> AdminCommands.run(rest, out);
      case "insert", "check-and-insert", "check", "commit", "release", "forget", "stats" ->
          ClientCommands.run(command, rest, out, err);
      // The load benchmark is its own module (load-bench/), a client of the API that the server
      // does not depend on; bin/dedupe starts it instead of this class.
      case "bench" -> throw new UsageException(
          "'bench' runs from the load-bench module: use 'bin/dedupe bench', or run"
              + " dev.dedupe.loadbench.Main on load-bench's class path");
      case "help", "-h", "--help" -> {
        out.print(USAGE);
        yield 0;
      }
      default -> throw new UsageException("unknown command '" + command + "'");
    };
  }

  private static int serve(List<String> args, boolean dev, PrintStream out) {
    Path configFile = null;
    int nodes = 1;
    int zkPort = DevCluster.ZOOKEEPER_PORT;
    Path clusterRoot = Path.of(System.getProperty("dedupe.home", "."), "data", "dev-cluster");
    Map<String, String> settings = new LinkedHashMap<>();
    if (dev) {
      // Embedded defaults: reachable from this machine only, data kept between runs.
      settings.put("grpc.host", "127.0.0.1");
      settings.put("ops.host", "127.0.0.1");
      String home = System.getProperty("dedupe.home", ".");
      settings.put("storage.data-dir", Path.of(home, "data", "dev").toString());
      settings.put("storage.block-cache.bytes", "64MiB");
      settings.put("storage.write-buffer.bytes", "64MiB");
    }
    for (int i = 0; i < args.size(); i++) {
      String flag = args.get(i);
      String value = i + 1 < args.size() ? args.get(i + 1) : null;
      switch (flag) {
        case "--config" -> configFile = Path.of(need(flag, value));
        case "--grpc-port" -> settings.put("grpc.port", need(flag, value));
        case "--ops-port" -> settings.put("ops.port", need(flag, value));
        case "--data-dir" -> {
          settings.put("storage.data-dir", need(flag, value));
          clusterRoot = Path.of(value);
        }
        case "--zk-port" -> {
          if (!dev) {
            throw new UsageException("--zk-port is for 'dev --nodes N'");
          }
          zkPort = Integer.parseInt(need(flag, value));
        }
        case "--zk" -> settings.put("cluster.zk", need(flag, value));
        case "--cluster" -> settings.put("cluster.name", need(flag, value));
        case "--node-id" -> settings.put("cluster.node-id", need(flag, value));
        case "--initial-nodes" -> settings.put("cluster.initial-nodes", need(flag, value));
        case "--nodes" -> {
          if (!dev) {
            throw new UsageException("--nodes is for 'dev'; start each server with --zk instead");
          }
          try {
            nodes = Integer.parseInt(need(flag, value));
          } catch (NumberFormatException e) {
            throw new UsageException("--nodes takes a number, got '" + value + "'");
          }
          if (nodes < 1 || nodes > 9) {
            throw new UsageException("--nodes must be 1 to 9, got " + nodes);
          }
        }
        case "--set" -> {
          String kv = need(flag, value);
          int eq = kv.indexOf('=');
          if (eq <= 0) {
            throw new UsageException("--set takes KEY=VALUE, got '" + kv + "'");
          }
          settings.put(kv.substring(0, eq).trim(), kv.substring(eq + 1));
        }
        default -> throw new UsageException("unknown flag '" + flag + "'");
      }
      i++;
    }
    if (nodes > 1) {
      return DevCluster.run(nodes, zkPort, clusterRoot, configFile, settings, out);
    }
    ServerConfig config = ConfigLoader.load(configFile, settings, System.getenv());
    DedupeNode node = DedupeNode.start(config, InstantSource.system());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      node.close();
      stopped.countDown();
    }, "shutdown"));
    if (dev) {
      printDevBanner(out, node);
    }
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }

  private static void printDevBanner(PrintStream out, DedupeNode node) {
    ServerConfig c = node.config();
    String target = "localhost:" + node.grpcPort();
    out.printf("""

        dedupe dev node is up.
          gRPC API  %s   (dedupe.v1.DedupeService, grpc.health.v1.Health, reflection)
          ops       http://localhost:%d/health/ready   http://localhost:%d/metrics
          data      %s   (%d shards, window %s, durability %s)

        Try it from another terminal:
          bin/dedupe insert orders order-1 order-2    # NEW, NEW
          bin/dedupe insert orders order-1            # DUPLICATE
          bin/dedupe stats orders
          grpcurl -plaintext -d '{"namespace":"orders","message_ids":["order-3"]}' \\
              %s dedupe.v1.DedupeService/CheckAndInsert

        Ctrl-C stops it.
        """,
        target, node.opsPort(), node.opsPort(),
        c.storage().dataDir().toAbsolutePath().normalize(), c.storage().shards(),
        human(c.windows().defaultWindow()), c.storage().durability().configName(), target);
    out.flush();
  }

  static String human(java.time.Duration d) {
    return d.toString().substring(2).toLowerCase(java.util.Locale.ROOT);
  }

  static String need(String flag, String value) {
    if (value == null) {
      throw new UsageException(flag + " needs a value");
    }
    return value;
  }

  /** Wrong words on the command line; exit code 2. */
  static final class UsageException extends RuntimeException {
    UsageException(String message) {
      super(message);
    }
  }

  static List<String> copy(List<String> list) {
    return new ArrayList<>(list);
  }
}
