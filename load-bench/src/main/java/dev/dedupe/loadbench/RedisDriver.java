package dev.dedupe.loadbench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.SetParams;

/**
 * Runs the benchmark's workload against Redis as {@code SET namespace:id 1 NX EX window},
 * pipelined: each connection has its own thread, sends a pipeline of commands, waits for all
 * replies, and sends the next. A reply of OK is a new id (NEW); nil is a duplicate.
 */
final class RedisDriver {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  private final HostAndPort address;

  RedisDriver(String host, int port) {
    this.address = new HostAndPort(host, port);
  }

  /** A driver for the Redis at "host:port" (checked by the command line). */
  static RedisDriver at(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    return new RedisDriver(hostPort.substring(0, colon),
        Integer.parseInt(hostPort.substring(colon + 1)));
  }

  String address() {
    return address.toString();
  }

  Jedis connect() {
    return new Jedis(address, DefaultJedisClientConfig.builder()
        // RESP2, the protocol of every Redis version; Jedis warns when it has to guess.
        .autoNegotiateProtocol(false)
        .connectionTimeoutMillis((int) TIMEOUT.toMillis())
        .socketTimeoutMillis((int) TIMEOUT.toMillis())
        .build());
  }

  /** One INFO section as key to value. */
  Map<String, String> info(String section) {
    try (Jedis jedis = connect()) {
      Map<String, String> values = new HashMap<>();
      for (String line : jedis.info(section).split("\r?\n")) {
        int colon = line.indexOf(':');
        if (colon > 0 && !line.startsWith("#")) {
          values.put(line.substring(0, colon), line.substring(colon + 1).trim());
        }
      }
      return values;
    }
  }

  long dbSize() {
    try (Jedis jedis = connect()) {
      return jedis.dbSize();
    }
  }

  /**
   * "appendonly=yes appendfsync=everysec", as the server reports its settings. A server that
   * refuses CONFIG GET (a managed Redis may rename it) still tells INFO whether it writes an
   * AOF; its appendfsync is then "unknown".
   */
  String persistence() {
    try (Jedis jedis = connect()) {
      return "appendonly=" + String.join("", jedis.configGet("appendonly").values())
          + " appendfsync=" + String.join("", jedis.configGet("appendfsync").values());
    } catch (JedisDataException e) {
      return "appendonly=" + ("1".equals(info("persistence").get("aof_enabled")) ? "yes" : "no")
          + " appendfsync=unknown";
    }
  }

  /**
   * Sets appendfsync (always, everysec) with CONFIG SET; false when the server refuses (a
   * managed Redis may rename or disable CONFIG).
   */
  boolean setAppendfsync(String mode) {
    try (Jedis jedis = connect()) {
      return "OK".equals(jedis.configSet("appendfsync", mode));
    } catch (RuntimeException e) {
      return false;
    }
  }

  /**
   * The server's own user plus system CPU seconds (INFO cpu, its main process and threads, not
   * an AOF rewrite child), or -1: for a Redis that is not a process this run started.
   */
  double cpuSeconds() {
    try {
      Map<String, String> cpu = info("cpu");
      return Double.parseDouble(cpu.get("used_cpu_sys")) + Double.parseDouble(cpu.get("used_cpu_user"));
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /**
   * Sends the workload over {@code connections} connections, {@code pipeline} commands per
   * round trip: for {@code warmup} uncounted, then for {@code duration} counted; or, when
   * {@code maxIds} is reached first, stops there.
   */
  PhaseCounter run(Workload.Shape shape, double duplicateRatio, long seed, String namespace,
      long windowSeconds, int connections, int pipeline, Duration warmup, Duration duration,
      boolean freshOnly, long maxIds) throws InterruptedException {
    return run(shape, duplicateRatio, seed, namespace, windowSeconds, connections, pipeline,
        warmup, duration, freshOnly, maxIds, 0, Duration.ZERO);
  }

  /**
   * As {@link #run(Workload.Shape, double, long, String, long, int, int, Duration, Duration,
   * boolean, long)}, each pipeline followed, in the same round trip, by {@code WAIT replicas
   * timeout}: Redis's synchronous replication, which answers once that many replicas have
   * acknowledged every write the connection sent before it (received and applied, not
   * necessarily fsynced: Redis 7.0 has no WAITAOF). A call whose WAIT heard fewer replicas
   * within the timeout counts as failed. {@code replicas} 0 sends no WAIT.
   */
  PhaseCounter run(Workload.Shape shape, double duplicateRatio, long seed, String namespace,
      long windowSeconds, int connections, int pipeline, Duration warmup, Duration duration,
      boolean freshOnly, long maxIds, int replicas, Duration waitTimeout)
      throws InterruptedException {
    PhaseCounter counter;
    AtomicReference<Throwable> firstError = new AtomicReference<>();
    long start = System.nanoTime();
    long measureFrom = start + warmup.toNanos();
    counter = new PhaseCounter(measureFrom);
    long end = measureFrom + duration.toNanos();
    String prefix = namespace + ":";
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < connections; t++) {
      long share = maxIds / connections + (t == 0 ? maxIds % connections : 0);
      Workload workload = new Workload(shape, duplicateRatio, seed + t);
      threads.add(Thread.ofPlatform().name("redis-bench-" + t).start(() -> {
        SetParams nxEx = SetParams.setParams().nx().ex(windowSeconds);
        List<Response<String>> replies = new ArrayList<>(pipeline);
        String[] keys = new String[pipeline];
        long sent = 0;
        try (Jedis jedis = connect(); Pipeline p = jedis.pipelined()) {
          while (sent < share) {
            long now = System.nanoTime();
            if (now >= end) {
              break;
            }
            int n = (int) Math.min(pipeline, share - sent);
            // Ids are made before the clock starts, as for the dedupe run.
            for (int i = 0; i < n; i++) {
              keys[i] = prefix + (freshOnly ? workload.fresh() : workload.next());
            }
            long sentAt = System.nanoTime();
            replies.clear();
            for (int i = 0; i < n; i++) {
              replies.add(p.set(keys[i], "1", nxEx));
            }
            Response<Long> acked = replicas > 0 ? p.waitReplicas(replicas, waitTimeout.toMillis())
                : null;
            p.sync();
            sent += n;
            if (acked != null && acked.get() < replicas) {
              if (now >= measureFrom) {
                counter.failed();
              }
              if (counter.errors() > 100) {
                throw new IllegalStateException("WAIT " + replicas + " " + waitTimeout.toMillis()
                    + " heard fewer replicas over 100 times: is the replica linked?");
              }
              continue;
            }
            if (now >= measureFrom) {
              int fresh = 0;
              for (Response<String> r : replies) {
                if ("OK".equals(r.get())) {
                  fresh++;
                }
              }
              counter.replied(sentAt, n, fresh, n - fresh);
            }
          }
        } catch (RuntimeException e) {
          firstError.compareAndSet(null, e);
          counter.failed();
        }
      }));
    }
    long joinMillis = warmup.plus(duration).plus(TIMEOUT).toMillis();
    long deadline = System.currentTimeMillis() + joinMillis;
    for (Thread thread : threads) {
      thread.join(Math.max(1, deadline - System.currentTimeMillis()));
      if (thread.isAlive()) {
        throw new IllegalStateException("Redis at " + address + " did not answer within " + TIMEOUT);
      }
    }
    if (firstError.get() != null) {
      throw new IllegalStateException("Redis at " + address + " failed: " + firstError.get(),
          firstError.get());
    }
    return counter;
  }

  /** Stores {@code count} fresh keys; returns keys per second. Bounded by count and time. */
  double preload(Workload.Shape shape, long seed, String namespace, long windowSeconds,
      long count, int connections, Duration timeLimit) throws InterruptedException {
    long start = System.nanoTime();
    PhaseCounter counter = run(shape, 0, seed, namespace, windowSeconds, connections, 1000,
        Duration.ZERO, timeLimit, true, count);
    if (counter.idsCounted() < count) {
      throw new IllegalStateException("Redis preload: only " + counter.idsCounted() + " of " + count
          + " keys stored within " + timeLimit);
    }
    return count / ((System.nanoTime() - start) / 1e9);
  }
}
