package dev.dedupe.server.shard.model;

import static dev.dedupe.server.shard.Caller.WAITING;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.ServerConfig;
import dev.dedupe.server.decision.LeaseOpResult;
import dev.dedupe.server.replication.ShardReplica;
import dev.dedupe.server.shard.ShardWriter;
import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.DataDirectory;
import dev.dedupe.server.storage.NodeStore;
import dev.dedupe.server.storage.RocksShardStore;
import dev.dedupe.server.storage.StorageResources;
import dev.dedupe.server.testing.HeldRound;
import dev.dedupe.server.testing.ManualClock;
import dev.dedupe.server.testing.TestConfigs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * One real shard: a RocksShardStore on disk behind its ShardWriter, on a manual clock, with
 * one-minute buckets. It runs model requests as writer rounds and renders the answers with
 * {@link Answers}. It is opened once and reused by every scenario (each in a namespace of its
 * own), because opening RocksDB costs far more than a scenario's rounds.
 */
final class ShardUnderTest implements AutoCloseable {

  static final long BUCKET_MILLIS = 60_000;
  private static final int QUEUE_CAPACITY = 4096;

  private final ManualClock clock;
  private final StorageResources resources;
  private final BucketGrid grid;
  private final DataDirectory directory;
  private NodeStore nodeStore;
  private RocksShardStore store;
  private ShardWriter writer;

  ShardUnderTest(Path dataDir, ManualClock clock) {
    // The writer's durability does not change its answers; skipping the per-round fsync keeps
    // thousands of scenarios within the time budget. Close still syncs the WAL before reopening.
    ServerConfig config = TestConfigs.forDataDir(dataDir, Map.of(
        "storage.bucket.minutes", "1", "storage.durability", "risk-power-loss"));
    this.clock = clock;
    this.resources = new StorageResources(config.storage());
    this.grid = new BucketGrid(config.storage().bucketWidth());
    this.directory = DataDirectory.openOrCreate(dataDir, 1);
    open();
  }

  private void open() {
    nodeStore = NodeStore.open(directory, resources);
    store = nodeStore.openShard(0, grid);
    startWriter();
  }

  private void startWriter() {
    writer = new ShardWriter(
        new KeptOpenStore(store), grid, clock, QUEUE_CAPACITY, ShardReplica.alone(0));
    writer.start();
  }

  /** Closes the store and opens it again from disk, as a restart would; with a new writer. */
  void reopen() {
    writer.close();
    store.close();
    nodeStore.close();
    open();
  }

  /**
   * Replaces the writer with a new one over the same open store, so that the clock may be set
   * back: a writer never lets its own clock run backwards.
   */
  void newWriter() {
    writer.close();
    startWriter();
  }

  /** Submits every op while the writer is held, so they are decided in one round, in order. */
  List<List<String>> runRound(
      String namespace, long windowMillis, List<ModelOp> ops, Answers answers) {
    HeldRound held = HeldRound.hold(writer);
    List<CompletableFuture<List<String>>> futures = new ArrayList<>();
    try {
      for (ModelOp op : ops) {
        futures.add(submit(namespace, windowMillis, op, answers));
      }
    } finally {
      held.release();
    }
    List<List<String>> out = new ArrayList<>();
    for (CompletableFuture<List<String>> f : futures) {
      try {
        out.add(f.join());
      } catch (CompletionException e) {
        out.add(List.of("FAILED " + e.getCause()));
      }
    }
    return out;
  }

  long keysHeld(String namespace) {
    return writer.submit(store -> store.namespaceKeyCounts().getOrDefault(namespace, 0L)).join();
  }

  private CompletableFuture<List<String>> submit(
      String ns, long window, ModelOp op, Answers answers) {
    List<byte[]> digests = op.ids().stream().map(id -> ShardHash.digest(ns, id)).toList();
    return switch (op) {
      case ModelOp.CheckAndInsert c -> writer.checkAndInsert(
              ns, window, digests, c.token(), c.leaseMillis(), bytes(c.fingerprints()), WAITING)
          .thenApply(r -> Arrays.stream(r).map(answers::of).toList());
      case ModelOp.Check c -> writer.check(ns, window, digests, WAITING)
          .thenApply(r -> Arrays.stream(r).map(answers::of).toList());
      case ModelOp.Forget f -> writer.forget(ns, window, digests, WAITING).thenApply(removed -> {
        List<String> out = new ArrayList<>();
        for (boolean b : removed) {
          out.add(answers.forgot(b));
        }
        return out;
      });
      case ModelOp.Commit c -> leaseOp(
          writer.commit(ns, window, digests, c.token(), bytes(c.results()), WAITING), answers);
      case ModelOp.Release r -> leaseOp(writer.release(ns, window, digests, r.token(), WAITING), answers);
      case ModelOp.ExtendLease e ->
          leaseOp(writer.extendLease(ns, window, digests, e.token(), e.leaseMillis(), WAITING), answers);
    };
  }

  private static CompletableFuture<List<String>> leaseOp(
      CompletableFuture<LeaseOpResult[]> f, Answers answers) {
    return f.thenApply(r -> Arrays.stream(r).map(answers::of).toList());
  }

  private static List<byte[]> bytes(List<String> values) {
    return values.stream().map(v -> v.getBytes(StandardCharsets.UTF_8)).toList();
  }

  @Override
  public void close() {
    writer.close();
    store.close();
    nodeStore.close();
    resources.close();
  }
}
