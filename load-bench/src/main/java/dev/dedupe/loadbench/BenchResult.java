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
 * @param steps one per stored-key size, in the order measured
 * @param notes what the reader must know to trust the figures (preload durability, Redis
 *     persistence, load on the machine)
 */
public record BenchResult(
    Map<String, String> environment, Map<String, String> settings, List<Step> steps,
    List<String> notes) {

  /** The format of this record in the file; bump it when a field changes meaning. */
  public static final int FORMAT = 1;

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
      Files.writeString(file, Json.write(this), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the result file " + file, e);
    }
  }

  public static BenchResult readFrom(Path file) {
    try {
      return Json.read(Files.readString(file, StandardCharsets.UTF_8), BenchResult.class);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the result file " + file, e);
    }
  }
}
