package dev.dedupe.server.core;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.WindowConfig;
import dev.dedupe.server.decision.ForgetResult;
import dev.dedupe.server.decision.IdResult;
import dev.dedupe.server.decision.InsertOptions;
import dev.dedupe.server.decision.LeaseOpResult;
import dev.dedupe.server.decision.Unhandled;
import dev.dedupe.server.shard.Caller;
import dev.dedupe.server.shard.NodeFigures;
import dev.dedupe.server.shard.ShardFigures;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.shard.ShardWriter;
import java.nio.charset.StandardCharsets;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * Decides batches of ids: hashes each id to its shard, hands each shard its part in request
 * order, and puts the shards' answers back in request order. Takes requests that were already
 * validated; knows nothing of gRPC.
 */
public final class DedupeEngine {

  private final ShardDirectory directory;
  private final ShardSet shards;
  private final WindowConfig windows;
  private final InstantSource clock;

  /**
   * @param directory where each shard's ids go (this node's writer, or an answer per id that
   *     says why not)
   * @param shards the shards open on this node, for figures
   */
  public DedupeEngine(
      ShardDirectory directory, ShardSet shards, WindowConfig windows, InstantSource clock) {
    this.directory = directory;
    this.shards = shards;
    this.windows = windows;
    this.clock = clock;
  }

  /**
   * Decides each id and records the new ones; one result per id, in order.
   *
   * @param caller asked just before each shard decides; if it gave up, nothing is recorded
   */
  public CompletableFuture<IdResult[]> checkAndInsert(
      String namespace, List<String> ids, InsertOptions options, Caller caller) {
    long window = windowMillis(namespace);
    return scatter(namespace, ids, IdResult[]::new, IdResult::notHandled,
        (writer, digests, positions) ->
            writer.checkAndInsert(namespace, window, digests, options.attemptToken(),
                options.leaseMillis(), slice(options.fingerprints(), positions), caller));
  }

  /** Reports what {@link #checkAndInsert} would answer, recording nothing. */
  public CompletableFuture<IdResult[]> check(String namespace, List<String> ids, Caller caller) {
    long window = windowMillis(namespace);
    return scatter(namespace, ids, IdResult[]::new, IdResult::notHandled,
        (writer, digests, positions) -> writer.check(namespace, window, digests, caller));
  }

  /** Removes ids; per id, whether it was held within the window. */
  public CompletableFuture<ForgetResult[]> forget(
      String namespace, List<String> ids, Caller caller) {
    long window = windowMillis(namespace);
    return scatter(namespace, ids, ForgetResult[]::new, why -> new ForgetResult(false, why),
        (writer, digests, positions) -> writer.forget(namespace, window, digests, caller)
            .thenApply(DedupeEngine::forgetResults));
  }

  /** Commits ids leased to {@code token}, storing {@code results} (one per id, or none). */
  public CompletableFuture<LeaseOpResult[]> commit(
      String namespace, List<String> ids, String token, List<byte[]> results, Caller caller) {
    long window = windowMillis(namespace);
    return scatter(namespace, ids, LeaseOpResult[]::new, LeaseOpResult::notHandled,
        (writer, digests, positions) ->
            writer.commit(namespace, window, digests, token, slice(results, positions), caller));
  }

  /** Releases ids leased to {@code token}. */
  public CompletableFuture<LeaseOpResult[]> release(
      String namespace, List<String> ids, String token, Caller caller) {
    long window = windowMillis(namespace);
    return scatter(namespace, ids, LeaseOpResult[]::new, LeaseOpResult::notHandled,
        (writer, digests, positions) -> writer.release(namespace, window, digests, token, caller));
  }

  /** Extends leases held by {@code token} to now plus {@code leaseMillis}. */
  public CompletableFuture<LeaseOpResult[]> extendLease(
      String namespace, List<String> ids, String token, long leaseMillis, Caller caller) {
    long window = windowMillis(namespace);
    return scatter(namespace, ids, LeaseOpResult[]::new, LeaseOpResult::notHandled,
        (writer, digests, positions) ->
            writer.extendLease(namespace, window, digests, token, leaseMillis, caller));
  }

  /**
   * One namespace's figures, read fresh from every shard this node serves. Replicas it follows
   * are left out: each id is counted once in a cluster, by the node that leads its shard, so
   * that the nodes' figures add up to the cluster's.
   */
  public CompletableFuture<NamespaceStats> stats(String namespace) {
    return CompletableFuture.supplyAsync(() -> {
      List<ShardFigures> perShard = shards.onEveryShard(ShardFigures::collect).stream()
          .filter(f -> directory.route(f.shard()) instanceof ShardRoute.Local).toList();
      NodeFigures node = NodeFigures.sum(clock.millis(), perShard, shards.sharedDiskBytes());
      return new NamespaceStats(
          namespace,
          node.keysHeld(namespace),
          node.bytesHeld(namespace),
          windows.windowFor(namespace),
          node.effectiveWindow(namespace, windows),
          node.oldestBucketStartMillis());
    });
  }

  private long windowMillis(String namespace) {
    return windows.windowFor(namespace).toMillis();
  }

  /** One shard's part of a request: its digests and their positions in the request. */
  @FunctionalInterface
  private interface ShardCall<E> {
    CompletableFuture<E[]> call(ShardWriter writer, List<byte[]> digests, int[] positions);
  }

  private static List<byte[]> slice(List<byte[]> perId, int[] positions) {
    if (perId.isEmpty()) {
      return List.of();
    }
    List<byte[]> part = new ArrayList<>(positions.length);
    for (int p : positions) {
      part.add(perId.get(p));
    }
    return part;
  }

  private <E> CompletableFuture<E[]> scatter(
      String namespace, List<String> ids, IntFunction<E[]> results,
      Function<Unhandled, E> unhandled, ShardCall<E> call) {
    int shardCount = directory.shardCount();
    byte[] ns = namespace.getBytes(StandardCharsets.UTF_8);
    int[] shardOfId = new int[ids.size()];
    byte[][] digestOfId = new byte[ids.size()][];
    int[] perShard = new int[shardCount];
    for (int i = 0; i < ids.size(); i++) {
      byte[] digest = ShardHash.digest(ns, ids.get(i));
      digestOfId[i] = digest;
      shardOfId[i] = ShardHash.shardOf(digest, shardCount);
      perShard[shardOfId[i]]++;
    }
    int[][] positions = new int[shardCount][];
    @SuppressWarnings("unchecked")
    List<byte[]>[] digests = new List[shardCount];
    for (int s = 0; s < shardCount; s++) {
      if (perShard[s] > 0) {
        positions[s] = new int[perShard[s]];
        digests[s] = new ArrayList<>(perShard[s]);
        perShard[s] = 0;
      }
    }
    for (int i = 0; i < ids.size(); i++) {
      int s = shardOfId[i];
      positions[s][perShard[s]++] = i;
      digests[s].add(digestOfId[i]);
    }

    E[] out = results.apply(ids.size());
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    for (int s = 0; s < shardCount; s++) {
      if (digests[s] == null) {
        continue;
      }
      int[] at = positions[s];
      ShardWriter writer;
      switch (directory.route(s)) {
        case ShardRoute.NotHere(Unhandled why) -> {
          E answer = unhandled.apply(why);
          for (int p : at) {
            out[p] = answer;
          }
          continue;
        }
        case ShardRoute.Local(ShardWriter local) -> writer = local;
      }
      parts.add(call.call(writer, digests[s], at).thenAccept(part -> {
        // Each shard fills only its own positions, so the parts never write the same slot.
        for (int i = 0; i < at.length; i++) {
          out[at[i]] = part[i];
        }
      }));
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenApply(done -> out);
  }

  private static ForgetResult[] forgetResults(boolean[] removed) {
    ForgetResult[] results = new ForgetResult[removed.length];
    for (int i = 0; i < removed.length; i++) {
      results[i] = removed[i] ? ForgetResult.REMOVED : ForgetResult.NOT_HELD;
    }
    return results;
  }
}
