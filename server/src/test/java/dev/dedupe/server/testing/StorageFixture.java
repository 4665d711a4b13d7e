package dev.dedupe.server.testing;

import dev.dedupe.server.replication.ShardReplica;
import dev.dedupe.server.config.ServerConfig;
import dev.dedupe.server.core.DedupeEngine;
import dev.dedupe.server.core.StandaloneDirectory;
import dev.dedupe.server.decision.IdResult;
import dev.dedupe.server.shard.Caller;
import dev.dedupe.server.shard.Retention;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.storage.BucketGrid;
import dev.dedupe.server.storage.DataDirectory;
import dev.dedupe.server.storage.NodeStore;
import dev.dedupe.server.storage.StorageResources;
import java.util.List;

/**
 * The storage stack of a node without its servers: real RocksDB shard stores on disk, their
 * writers, age-out, and the engine, on a manual clock. {@link #reopen} closes and opens it
 * again on the same directory, as a restart would.
 */
public final class StorageFixture implements AutoCloseable {

  public final ServerConfig config;
  public final ManualClock clock;
  public StorageResources resources;
  public NodeStore nodeStore;
  public ShardSet shards;
  public DedupeEngine engine;
  public Retention retention;

  public StorageFixture(ServerConfig config, ManualClock clock) {
    this.config = config;
    this.clock = clock;
    open();
  }

  private void open() {
    DataDirectory dir = DataDirectory.openOrCreate(config.storage().dataDir(), config.storage().shards());
    resources = new StorageResources(config.storage());
    nodeStore = NodeStore.open(dir, resources);
    shards = ShardSet.openAll(nodeStore, new BucketGrid(config.storage().bucketWidth()), clock,
        ShardReplica::alone);
    engine = new DedupeEngine(
        new StandaloneDirectory(shards, () -> "in-process"), shards, config.windows(), clock);
    retention = new Retention(shards, config.windows(), config.storage().diskBudgetBytes(), clock);
  }

  public void reopen() {
    close();
    open();
  }

  public IdResult[] insert(String namespace, String... ids) {
    return engine.checkAndInsert(namespace, List.of(ids), dev.dedupe.server.decision.InsertOptions.PLAIN,
        Caller.WAITING).join();
  }

  public IdResult[] check(String namespace, String... ids) {
    return engine.check(namespace, List.of(ids), Caller.WAITING).join();
  }

  public boolean[] forget(String namespace, String... ids) {
    var results = engine.forget(namespace, List.of(ids), Caller.WAITING).join();
    boolean[] removed = new boolean[results.length];
    for (int i = 0; i < results.length; i++) {
      removed[i] = results[i].removed();
    }
    return removed;
  }

  @Override
  public void close() {
    shards.close();
    nodeStore.close();
    resources.close();
  }
}
