package dev.dedupe.server.core;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.decision.ShardMap;
import dev.dedupe.server.shard.ShardSet;
import java.util.function.Supplier;

/** A node without a cluster: it serves every shard of its data directory. */
public final class StandaloneDirectory implements ShardDirectory {

  private final ShardSet shards;
  private final Supplier<String> address;

  /** @param address this node's advertised host:port, known once the API is bound */
  public StandaloneDirectory(ShardSet shards, Supplier<String> address) {
    this.shards = shards;
    this.address = address;
  }

  @Override
  public int shardCount() {
    return shards.shardCount();
  }

  @Override
  public ShardRoute route(int shard) {
    return new ShardRoute.Local(shards.writer(shard));
  }

  @Override
  public ShardMap map() {
    return ShardMap.standalone(shards.shardCount(), ShardHash.NAME, address.get());
  }

  @Override
  public AutoCloseable onMapChange(Runnable listener) {
    return () -> { };
  }

  @Override
  public boolean isServing() {
    return shards.isHealthy();
  }
}
