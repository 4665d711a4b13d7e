package dev.dedupe.server.shard;

import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.DataDirectory;
import dev.dedupe.server.storage.RocksShardStore;
import dev.dedupe.server.storage.StorageResources;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * The shards a node serves, each behind its own {@link ShardWriter}. Today a node serves every
 * shard of its data directory; the cluster will open and close writers as assignment changes.
 */
public final class ShardSet implements AutoCloseable {

  /** Requests that may wait for one shard before new ones are refused as overload. */
  static final int QUEUE_CAPACITY = 4096;

  private final DataDirectory directory;
  private final BucketGrid grid;
  private final List<ShardWriter> writers;

  private ShardSet(DataDirectory directory, BucketGrid grid, List<ShardWriter> writers) {
    this.directory = directory;
    this.grid = grid;
    this.writers = writers;
  }

  /** Opens every shard store of {@code directory} (in parallel) and starts its writer. */
  public static ShardSet open(
      DataDirectory directory, StorageResources resources, BucketGrid grid, InstantSource clock) {
    List<CompletableFuture<RocksShardStore>> opening = new ArrayList<>();
    for (int shard = 0; shard < directory.shards(); shard++) {
      int s = shard;
      opening.add(CompletableFuture.supplyAsync(
          () -> RocksShardStore.open(s, directory.shardPath(s), resources, grid)));
    }
    List<ShardWriter> writers = new ArrayList<>();
    RuntimeException failure = null;
    for (CompletableFuture<RocksShardStore> f : opening) {
      try {
        writers.add(new ShardWriter(f.join(), grid, clock, QUEUE_CAPACITY));
      } catch (CompletionException e) {
        failure = e.getCause() instanceof RuntimeException re ? re : e;
      }
    }
    if (failure != null) {
      writers.forEach(ShardWriter::close);
      throw failure;
    }
    writers.forEach(ShardWriter::start);
    return new ShardSet(directory, grid, List.copyOf(writers));
  }

  public int shardCount() {
    return directory.shards();
  }

  public BucketGrid grid() {
    return grid;
  }

  public ShardWriter writer(int shard) {
    return writers.get(shard);
  }

  public List<ShardWriter> writers() {
    return writers;
  }

  /** True when every writer is serving and its last write succeeded. */
  public boolean isHealthy() {
    return writers.stream().allMatch(ShardWriter::isHealthy);
  }

  /** Runs {@code action} on every shard's writer thread and gathers the results in shard order. */
  public <T> List<T> onEveryShard(Function<dev.dedupe.server.storage.ShardStore, T> action) {
    List<CompletableFuture<T>> futures = new ArrayList<>();
    for (ShardWriter w : writers) {
      futures.add(w.submit(action));
    }
    List<T> results = new ArrayList<>();
    for (CompletableFuture<T> f : futures) {
      results.add(f.join());
    }
    return results;
  }

  @Override
  public void close() {
    // Writers close in parallel: each finishes its queue and syncs its WAL before closing.
    writers.stream().map(w -> CompletableFuture.runAsync(w::close)).toList()
        .forEach(CompletableFuture::join);
  }
}
