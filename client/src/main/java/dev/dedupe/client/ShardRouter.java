package dev.dedupe.client;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.ShardOwner;
import io.grpc.Status;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Knows which address owns each id, from the servers' {@code GetShardMap}, and groups ids by
 * owner so that each group goes straight to its node.
 *
 * <p>The map is fetched on first use (so building a client does no I/O) and again whenever a
 * call fails with UNAVAILABLE, since that is how a moved shard shows itself. After the first
 * answer, a {@code WatchShardMap} stream to the node that answered keeps the map current, so
 * that a change reaches the client at once; when the stream ends (the node stopped) it is
 * opened again, to another node, after a pause. Only the hash
 * named {@value #HASH_NAME} is known; a server that names another one, or predates
 * GetShardMap, is sent every id unrouted, as the contract asks of clients that do not know
 * the hash.
 *
 * <p>Threads: any. The table is an immutable snapshot swapped atomically; at most one fetch is
 * in flight ({@link #lock} guards starting and finishing it).
 */
final class ShardRouter {

  /** The shard hash this client implements ({@link ShardHash}). */
  static final String HASH_NAME = "murmur3_x64_128-v1";

  /** A provisional table (made without an answer) is re-fetched at most this often, in ns. */
  private static final long PROVISIONAL_RETRY_NANOS = 1_000_000_000L;

  private static final System.Logger log = System.getLogger(DedupeClient.class.getName());

  /**
   * An immutable routing table: the owner of each shard, or one address for everything.
   *
   * @param shardCount the number of shards; 0 when unrouted
   * @param owners the owner address of each shard; empty when unrouted
   * @param epochs the ownership epoch of each shard, as the map (or a later hint) said
   * @param fallback the address of every id when unrouted
   * @param provisional true when no server answered, so the table is a guess
   * @param madeAtNanos when the table was made ({@link System#nanoTime()})
   */
  record Table(int shardCount, String[] owners, long[] epochs, String fallback,
      boolean provisional, long madeAtNanos) {

    static Table unrouted(String address, boolean provisional) {
      return new Table(0, new String[0], new long[0], address, provisional, System.nanoTime());
    }

    /**
     * The table a GetShardMap answer describes; unrouted when it names an unknown hash or no
     * shards. Shards the answer leaves out, or gives no address (owner down, cluster not
     * formed), go to the node that answered, which answers them UNAVAILABLE until they have an
     * owner again.
     */
    static Table fromProto(GetShardMapResponse map, String answeredBy) {
      if (!HASH_NAME.equals(map.getHash())) {
        log.log(Level.WARNING, "server {0} routes with shard hash \"{1}\"; this client knows only"
            + " \"{2}\", so it sends every id to one node unrouted", answeredBy, map.getHash(),
            HASH_NAME);
        return unrouted(answeredBy, false);
      }
      int count = map.getShardCount();
      if (count <= 0) {
        return unrouted(answeredBy, false);
      }
      String[] owners = new String[count];
      long[] epochs = new long[count];
      for (ShardOwner owner : map.getOwnersList()) {
        if (owner.getShard() < count && !owner.getAddress().isEmpty()) {
          owners[owner.getShard()] = owner.getAddress();
          epochs[owner.getShard()] = owner.getEpoch();
        }
      }
      for (int s = 0; s < count; s++) {
        if (owners[s] == null) {
          owners[s] = answeredBy;
        }
      }
      return new Table(count, owners, epochs, answeredBy, false, System.nanoTime());
    }

    /**
     * This table with {@code owner}'s shard at {@code owner}'s address, if the owner's epoch is
     * not older than the one the table holds; null if the hint does not apply.
     */
    Table withOwner(ShardOwner owner) {
      int shard = owner.getShard();
      if (!routed() || shard >= shardCount || owner.getAddress().isEmpty()
          || owner.getEpoch() < epochs[shard]) {
        return null;
      }
      String[] o = owners.clone();
      long[] e = epochs.clone();
      o[shard] = owner.getAddress();
      e[shard] = owner.getEpoch();
      return new Table(shardCount, o, e, fallback, provisional, madeAtNanos);
    }

    boolean routed() {
      return shardCount > 0;
    }

    /** The address that owns (namespace, id). */
    String ownerOf(byte[] namespaceUtf8, String id) {
      if (!routed()) {
        return fallback;
      }
      return owners[ShardHash.shardOf(ShardHash.digest(namespaceUtf8, id), shardCount)];
    }

    /** Every address in the table. */
    Set<String> addresses() {
      Set<String> all = new LinkedHashSet<>(Arrays.asList(owners));
      all.add(fallback);
      return all;
    }
  }

  /** How long to wait before re-opening a watch that ended. */
  private static final long REWATCH_DELAY_MILLIS = 1_000;

  private final List<String> targets;
  private final ChannelPool channels;
  /** Guarded by {@link #lock}: the open watch stream, or null. */
  private io.grpc.Context.CancellableContext watch;
  /** Guarded by {@link #lock}: a server said it cannot watch (v1.1), so do not try again. */
  private boolean watchUnsupported;
  private volatile boolean closed;
  private volatile Table current;
  private final ReentrantLock lock = new ReentrantLock();
  /** Guarded by {@link #lock}: the fetch in flight, or null. */
  private CompletableFuture<Table> fetching;
  /** Guarded by {@link #lock}: which target a fetch asks first; rotates. */
  private int nextTarget;

  ShardRouter(List<String> targets, ChannelPool channels) {
    this.targets = List.copyOf(targets);
    this.channels = channels;
  }

  /** The table to route by: the current one, or the first fetch's result. */
  CompletableFuture<Table> table() {
    Table t = current;
    if (t == null) {
      return refresh(null);
    }
    if (t.provisional() && System.nanoTime() - t.madeAtNanos() > PROVISIONAL_RETRY_NANOS) {
      refresh(t); // in the background; this call goes by the guess
    }
    return CompletableFuture.completedFuture(t);
  }

  /**
   * Fetches the map again, unless it changed since {@code seen} (someone refreshed already).
   * Never fails: if no server answers, it keeps {@code seen} (or guesses the first target).
   */
  CompletableFuture<Table> refresh(Table seen) {
    CompletableFuture<Table> mine;
    List<String> candidates;
    lock.lock();
    try {
      Table now = current;
      if (now != null && now != seen) {
        return CompletableFuture.completedFuture(now);
      }
      if (fetching != null) {
        return fetching;
      }
      fetching = mine = new CompletableFuture<>();
      candidates = candidates(seen);
    } finally {
      lock.unlock();
    }
    fetch(candidates, 0, seen, mine);
    return mine;
  }

  /** The configured targets, starting at a rotating one, then the nodes of the old table. */
  private List<String> candidates(Table seen) {
    Set<String> order = new LinkedHashSet<>();
    int start = Math.floorMod(nextTarget++, targets.size());
    for (int i = 0; i < targets.size(); i++) {
      order.add(targets.get((start + i) % targets.size()));
    }
    if (seen != null) {
      order.addAll(seen.addresses());
    }
    return new ArrayList<>(order);
  }

  private void fetch(List<String> candidates, int i, Table seen, CompletableFuture<Table> out) {
    if (i == candidates.size()) {
      finish(seen != null ? seen.provisional()
              ? Table.unrouted(seen.fallback(), true) : seen
          : Table.unrouted(candidates.get(0), true), out);
      return;
    }
    String address = candidates.get(i);
    CompletableFuture<GetShardMapResponse> call = new CompletableFuture<>();
    try {
      channels.stub(address).getShardMap(GetShardMapRequest.getDefaultInstance(),
          Rpcs.observer(call));
    } catch (RuntimeException e) {
      call.completeExceptionally(e);
    }
    call.whenComplete((map, failure) -> {
      try {
        if (failure == null) {
          finish(Table.fromProto(map, address), out);
          watch(address);
        } else if (Status.fromThrowable(failure).getCode() == Status.Code.UNIMPLEMENTED) {
          // A v1.0 server: it cannot tell, so it gets every id.
          finish(Table.unrouted(address, false), out);
        } else {
          fetch(candidates, i + 1, seen, out);
        }
      } catch (RuntimeException e) {
        finish(Table.unrouted(address, true), out);
      }
    });
  }

  private void finish(Table table, CompletableFuture<Table> out) {
    lock.lock();
    try {
      current = table;
      fetching = null;
    } finally {
      lock.unlock();
    }
    out.complete(table);
  }

  /**
   * Takes an owner hint from a per-id UNAVAILABLE answer ("another node owns this shard"):
   * the current table is patched if the hint's epoch is not older than what it holds, without
   * waiting for a full map fetch. Returns whether the table now sends the shard there.
   */
  boolean hint(ShardOwner owner) {
    lock.lock();
    try {
      Table now = current;
      if (now == null) {
        return false;
      }
      if (now.routed() && owner.getShard() < now.shardCount()
          && owner.getAddress().equals(now.owners()[owner.getShard()])) {
        return true;
      }
      Table patched = now.withOwner(owner);
      if (patched == null) {
        return false;
      }
      current = patched;
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Opens a WatchShardMap stream to {@code address} unless one is open (or pointless). */
  private void watch(String address) {
    io.grpc.Context.CancellableContext context;
    lock.lock();
    try {
      if (closed || watch != null || watchUnsupported || !routedNow()) {
        return;
      }
      context = io.grpc.Context.current().withCancellation();
      watch = context;
    } finally {
      lock.unlock();
    }
    io.grpc.stub.StreamObserver<dev.dedupe.v1.WatchShardMapResponse> observer =
        new io.grpc.stub.StreamObserver<>() {
          @Override
          public void onNext(dev.dedupe.v1.WatchShardMapResponse map) {
            Table table = Table.fromProto(GetShardMapResponse.newBuilder()
                .setShardCount(map.getShardCount()).setHash(map.getHash())
                .addAllOwners(map.getOwnersList()).build(), address);
            lock.lock();
            try {
              if (!closed) {
                current = table;
              }
            } finally {
              lock.unlock();
            }
          }

          @Override
          public void onError(Throwable t) {
            ended(context, Status.fromThrowable(t).getCode() == Status.Code.UNIMPLEMENTED);
          }

          @Override
          public void onCompleted() {
            ended(context, false);
          }
        };
    try {
      context.run(() -> channels.streamStub(address).watchShardMap(
          dev.dedupe.v1.WatchShardMapRequest.getDefaultInstance(), observer));
    } catch (RuntimeException e) {
      ended(context, false);
    }
  }

  private boolean routedNow() {
    Table t = current;
    return t != null && t.routed() && !t.provisional();
  }

  /** A watch stream ended: re-open one after a pause (to any node), unless closing. */
  private void ended(io.grpc.Context.CancellableContext context, boolean unsupported) {
    lock.lock();
    try {
      if (watch == context) {
        watch = null;
      }
      watchUnsupported |= unsupported;
      if (closed || unsupported) {
        return;
      }
    } finally {
      lock.unlock();
    }
    CompletableFuture.delayedExecutor(REWATCH_DELAY_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS)
        .execute(() -> {
          if (!closed) {
            // Fetching anew picks a live node and opens the watch there when it answers.
            refresh(current);
          }
        });
  }

  /** Stops watching; the client is closing. */
  void close() {
    io.grpc.Context.CancellableContext open;
    lock.lock();
    try {
      closed = true;
      open = watch;
      watch = null;
    } finally {
      lock.unlock();
    }
    if (open != null) {
      open.cancel(null);
    }
  }

  /**
   * Groups items by the address that owns their id under {@code table}, keeping request order
   * within each group, groups in order of first appearance.
   */
  static <I extends Item<?>> Map<String, List<I>> group(Table table, String namespace, List<I> items) {
    Map<String, List<I>> groups = new LinkedHashMap<>();
    byte[] ns = namespace.getBytes(StandardCharsets.UTF_8);
    for (I item : items) {
      groups.computeIfAbsent(table.ownerOf(ns, item.id), a -> new ArrayList<>()).add(item);
    }
    return groups;
  }
}
