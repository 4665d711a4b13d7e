package dev.dedupe.loadbench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What one {@code bin/dedupe bench} run measured, as written to its JSON result file. Figures
 * that could not be read are -1 (for example RSS of a remote server).
 *
 * @param environment the machine and software the figures were taken on
 * @param settings the run's options, as given on the command line or defaulted
 * @param steps one per stored-key size, in the order measured (none for the --vs-redis suite)
 * @param notes what the reader must know to trust the figures (preload durability, Redis
 *     persistence, load on the machine)
 * @param comparison the --vs-redis suite's measurements, or null for a growth run
 */
public record BenchResult(
    Map<String, String> environment, Map<String, String> settings, List<Step> steps,
    List<String> notes, Comparison comparison) {

  /**
   * The format of this record in the file (its {@code format} field; files without one, written
   * before it, are format 1); bump it when a field changes meaning. A file of a newer format
   * is refused rather than misread. Format 2 added {@code comparison}: a suite's file read by
   * format-1 code would look like a run that measured nothing.
   */
  public static final int FORMAT = 2;

  /** A growth run's result (no suite measurements). */
  public BenchResult(Map<String, String> environment, Map<String, String> settings,
      List<Step> steps, List<String> notes) {
    this(environment, settings, steps, notes, null);
  }

  /**
   * The {@code --vs-redis} suite's measurements, every one, in the order taken; the medians in
   * the file and the table are computed from them ({@link SuiteSummary}).
   *
   * @param rounds rounds asked for
   * @param workloads the workloads' names, in table order
   * @param targets the targets' names (dedupe, redis-always, redis-everysec, ...)
   * @param measurements one per round, workload and target
   */
  public record Comparison(
      int rounds, List<String> workloads, List<String> targets, List<Measurement> measurements) {}

  /**
   * One measurement of the suite. Latency is per call (one CheckAndInsert, one Redis pipeline or
   * single command, one client checkAndInsert), from send to reply, over calls sent after the
   * warm-up; CPU is read from the end of the warm-up to the last reply.
   *
   * @param round 1-based
   * @param workload the workload's name
   * @param target the target's name
   * @param seconds the measured time
   * @param calls calls completed in it
   * @param ids ids decided in it
   * @param duplicateIds ids answered DUPLICATE (Redis: nil)
   * @param errors calls that failed
   * @param idsPerSecond ids / seconds
   * @param p50Millis median call latency
   * @param p99Millis 99th percentile
   * @param serverCpuSeconds the measured server's user + system CPU time in the measured time,
   *     or -1 when not known (a remote node)
   * @param loadAverage the machine's 1-minute load average when the measurement ended (this
   *     benchmark's own load included)
   * @param otherCpus CPUs that anything but the measured server and this client took, on
   *     average over the measured time (other processes, the idle server), or -1
   */
  public record Measurement(
      int round, String workload, String target, double seconds, long calls, long ids,
      long duplicateIds, long errors, double idsPerSecond, double p50Millis, double p99Millis,
      double serverCpuSeconds, double loadAverage, double otherCpus) {

    /** Server CPU per id in microseconds, or -1 when not known. */
    public double serverCpuMicrosPerId() {
      return serverCpuSeconds < 0 || ids == 0 ? -1 : serverCpuSeconds * 1e6 / ids;
    }
  }

  /**
   * One stored-key size: the dedupe run, the Redis run if any, and the figures after them.
   *
   * @param targetKeys the stored-key count preloaded before measuring (0 for none)
   * @param dedupe the dedupe run
   * @param redis the Redis run, or null when there was none
   * @param server the dedupe server's figures after its run
   * @param redisFigures Redis's figures after its run, or null
   */
  public record Step(
      long targetKeys, Phase dedupe, Phase redis, ServerFigures server, RedisFigures redisFigures) {

    /** dedupe ids/s over Redis ids/s, or -1 without a Redis run. */
    public double ratio() {
      return redis == null || redis.idsPerSecond() <= 0 ? -1 : dedupe.idsPerSecond() / redis.idsPerSecond();
    }
  }

  /**
   * One timed run against one system. Latency is per request (a batch, or a Redis pipeline),
   * from send to reply, over requests sent after the warm-up.
   *
   * @param system "dedupe" or "redis"
   * @param keysBefore keys stored when the run started
   * @param keysAfter keys stored when it ended
   * @param batch ids per request (per pipeline for Redis)
   * @param inFlight requests in flight at once (connections for Redis)
   * @param seconds the measured time, from the end of warm-up to the last reply
   * @param requests requests completed in the measured time
   * @param ids ids decided in the measured time
   * @param newIds ids answered NEW (Redis: SET NX answered OK)
   * @param duplicateIds ids answered DUPLICATE (Redis: SET NX answered nil)
   * @param errors requests that failed
   * @param idsPerSecond ids / seconds
   * @param p50Millis median request latency
   * @param p99Millis 99th percentile
   * @param p999Millis 99.9th percentile
   * @param maxMillis the slowest request
   * @param serverCpuSeconds CPU time the server process used in the measured time, or -1 when
   *     it is not a process this run started
   * @param clientCpuSeconds CPU time the benchmark client used in the measured time
   * @param otherCpuSeconds CPU time that anything but the measured server and the client took
   *     from the machine in the measured time (other processes, and the idle server's background
   *     work), or -1 when not known; figures taken while it is well above zero understate what
   *     the system can do
   */
  public record Phase(
      String system, long keysBefore, long keysAfter, int batch, int inFlight, double seconds,
      long requests, long ids, long newIds, long duplicateIds, long errors, double idsPerSecond,
      double p50Millis, double p99Millis, double p999Millis, double maxMillis,
      double serverCpuSeconds, double clientCpuSeconds, double otherCpuSeconds) {

    /** The share of ids answered DUPLICATE. */
    public double duplicateShare() {
      return ids == 0 ? 0 : duplicateIds / (double) ids;
    }
  }

  /**
   * The dedupe server after a run. Bytes per key are disk bytes over keys held.
   *
   * @param keysHeld keys in the benchmark's namespace (GetNamespaceStats)
   * @param diskBytes the server's own figure: table files plus write-ahead logs
   * @param sstBytes table files in the data directory (embedded server only)
   * @param walBytes write-ahead log files in the data directory (embedded server only)
   * @param rssBytes resident memory of the server process (embedded server only)
   * @param heapCommittedBytes JVM heap committed (ops port)
   * @param blockCacheBytes RocksDB block cache in use, memtables charged to it included (ops port)
   * @param memtableBytes memtables (ops port)
   * @param compactionWriteBytes bytes written by compaction during the run (ops port)
   * @param stallMicros microseconds writes were stalled during the run (ops port)
   * @param walSyncs WAL syncs during the run (ops port)
   * @param freshRssBytes resident memory just after a restart (embedded server only)
   * @param freshBeyondCachesBytes the same, less JVM heap committed and block cache in use: JVM
   *     internals (a constant) plus what the stored keys cost in RAM (filters and indexes)
   */
  public record ServerFigures(
      long keysHeld, long diskBytes, long sstBytes, long walBytes, long rssBytes,
      long heapCommittedBytes, long blockCacheBytes, long memtableBytes,
      long compactionWriteBytes, long stallMicros, long walSyncs, long freshRssBytes,
      long freshBeyondCachesBytes) {

    /** These figures with the resident memory measured after a restart. */
    public ServerFigures withFresh(long rss, long beyondCaches) {
      return new ServerFigures(keysHeld, diskBytes, sstBytes, walBytes, rssBytes,
          heapCommittedBytes, blockCacheBytes, memtableBytes, compactionWriteBytes, stallMicros,
          walSyncs, rss, beyondCaches);
    }

    public double diskBytesPerKey() {
      return keysHeld <= 0 || diskBytes < 0 ? -1 : diskBytes / (double) keysHeld;
    }

    public double sstBytesPerKey() {
      return keysHeld <= 0 || sstBytes < 0 ? -1 : sstBytes / (double) keysHeld;
    }

    /**
     * Resident memory that is neither JVM heap nor RocksDB's fixed caches: JVM internals
     * (a constant) plus what grows with the keys (filters and indexes of table files), or -1.
     */
    public long residentBeyondCaches() {
      if (rssBytes < 0 || heapCommittedBytes < 0 || blockCacheBytes < 0) {
        return -1;
      }
      return rssBytes - heapCommittedBytes - blockCacheBytes;
    }
  }

  /**
   * Redis after its run (INFO and DBSIZE).
   *
   * @param keys DBSIZE
   * @param usedMemoryBytes INFO memory used_memory
   * @param rssBytes INFO memory used_memory_rss
   * @param forksDuringRun INFO stats total_forks, before minus after the run (AOF rewrites)
   * @param persistence appendonly and appendfsync as Redis reported them
   */
  public record RedisFigures(
      long keys, long usedMemoryBytes, long rssBytes, long forksDuringRun, String persistence) {

    public double usedMemoryPerKey() {
      return keys <= 0 ? -1 : usedMemoryBytes / (double) keys;
    }
  }

  public void writeTo(Path file) {
    try {
      Path parent = file.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      Files.writeString(file, ResultJson.write(this), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the result file " + file, e);
    }
  }

  /**
   * Reads a result file, this version's or an older one.
   *
   * @throws UncheckedIOException if the file cannot be read
   * @throws IllegalArgumentException if it is not a result file this version reads
   */
  public static BenchResult readFrom(Path file) {
    try {
      return ResultJson.read(Files.readString(file, StandardCharsets.UTF_8), file.toString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the result file " + file, e);
    }
  }
}
