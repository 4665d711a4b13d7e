package dev.dedupe.server.core;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.WindowConfig;
import dev.dedupe.server.shard.NodeFigures;
import dev.dedupe.server.shard.ShardFigures;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.shard.ShardWriter;
import java.nio.charset.StandardCharsets;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Decides batches of ids: hashes each id to its shard, hands each shard its part in request
 * order, and puts the shards' answers back in request order. Takes requests that were already
 * validated; knows nothing of gRPC.
 */
public final class DedupeEngine {

  private final ShardSet shards;
  private final WindowConfig windows;
  private final InstantSource clock;

  public DedupeEngine(ShardSet shards, WindowConfig windows, InstantSource clock) {
    this.shards = shards;
    this.windows = windows;
    this.clock = clock;
  }

  /** Decides each id and records the new ones; one result per id, in order. */
  public CompletableFuture<IdResult[]> checkAndInsert(String namespace, List<String> ids) {
    long window = windows.windowFor(namespace).toMillis();
    return scatter(namespace, ids, IdResult[]::new,
        (writer, digests) -> writer.checkAndInsert(namespace, window, digests),
        (part, i, into, at) -> into[at] = part[i]);
  }

  /** Reports what {@link #checkAndInsert} would answer, recording nothing. */
  public CompletableFuture<IdResult[]> check(String namespace, List<String> ids) {
    long window = windows.windowFor(namespace).toMillis();
    return scatter(namespace, ids, IdResult[]::new,
        (writer, digests) -> writer.check(namespace, window, digests),
        (part, i, into, at) -> into[at] = part[i]);
  }

  /** Removes ids; true where the id was held within the window. */
  public CompletableFuture<boolean[]> forget(String namespace, List<String> ids) {
    long window = windows.windowFor(namespace).toMillis();
    return scatter(namespace, ids, boolean[]::new,
        (writer, digests) -> writer.forget(namespace, window, digests),
        (part, i, into, at) -> into[at] = part[i]);
  }

  /** One namespace's figures, read fresh from every shard. */
  public CompletableFuture<NamespaceStats> stats(String namespace) {
    return CompletableFuture.supplyAsync(() -> {
      List<ShardFigures> perShard = shards.onEveryShard(ShardFigures::collect);
      NodeFigures node = NodeFigures.sum(clock.millis(), perShard);
      return new NamespaceStats(
          namespace,
          node.keysHeld(namespace),
          node.bytesHeld(namespace),
          windows.windowFor(namespace),
          node.effectiveWindow(namespace, windows),
          node.oldestBucketStartMillis());
    });
  }

  @FunctionalInterface
  private interface ShardCall<P> {
    CompletableFuture<P> call(ShardWriter writer, List<byte[]> digests);
  }

  @FunctionalInterface
  private interface Gather<P, R> {
    void put(P part, int indexInPart, R into, int indexInRequest);
  }

  @FunctionalInterface
  private interface ResultArray<R> {
    R ofLength(int n);
  }

  private <P, R> CompletableFuture<R> scatter(
      String namespace, List<String> ids, ResultArray<R> results, ShardCall<P> call,
      Gather<P, R> gather) {
    int shardCount = shards.shardCount();
    byte[] ns = namespace.getBytes(StandardCharsets.UTF_8);
    @SuppressWarnings("unchecked")
    List<byte[]>[] digestsByShard = new List[shardCount];
    int[][] positionsByShard = new int[shardCount][];
    int[] fill = new int[shardCount];
    int[] shardOfId = new int[ids.size()];
    byte[][] digestOfId = new byte[ids.size()][];
    for (int i = 0; i < ids.size(); i++) {
      byte[] digest = ShardHash.digest(ns, ids.get(i));
      int shard = ShardHash.shardOf(digest, shardCount);
      digestOfId[i] = digest;
      shardOfId[i] = shard;
      fill[shard]++;
    }
    for (int s = 0; s < shardCount; s++) {
      if (fill[s] > 0) {
        digestsByShard[s] = new ArrayList<>(fill[s]);
        positionsByShard[s] = new int[fill[s]];
        fill[s] = 0;
      }
    }
    for (int i = 0; i < ids.size(); i++) {
      int s = shardOfId[i];
      digestsByShard[s].add(digestOfId[i]);
      positionsByShard[s][fill[s]++] = i;
    }

    R out = results.ofLength(ids.size());
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    for (int s = 0; s < shardCount; s++) {
      if (digestsByShard[s] == null) {
        continue;
      }
      int[] positions = positionsByShard[s];
      parts.add(call.call(shards.writer(s), digestsByShard[s]).thenAccept(part -> {
        // Each shard fills only its own positions, so the parts never write the same slot.
        for (int i = 0; i < positions.length; i++) {
          gather.put(part, i, out, positions[i]);
        }
      }));
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenApply(done -> out);
  }
}
