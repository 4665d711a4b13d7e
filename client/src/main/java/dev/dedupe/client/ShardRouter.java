package dev.dedupe.client;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.ShardOwner;
import io.grpc.Context;
import io.grpc.Status;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Knows which address owns each id, from the servers' {@code GetShardMap}, and groups ids by
 * owner so that each group goes straight to its node.
 *
 * <p>The map is fetched on first use (so building a client does no I/O) and again whenever a
 * call fails with UNAVAILABLE, since that is how a moved shard shows itself. A fetch may ask
 * any address the client knows: the seeds (the builder's targets) and every node a map or an
 * owner hint has named. It asks them one after another, moving on as soon as one fails or
 * has not answered within {@value #HEDGE_DELAY_MILLIS} ms (without cancelling it), and takes
 * the first answer; so a dead or hung node costs a fetch a fraction of a second, not the
 * request deadline, and a client whose seed died still finds the nodes it learned of. After
 * the first answer, a {@code WatchShardMap} stream to the node that answered keeps the map
 * current, so that a change reaches the client at once; when the stream ends (the node
 * stopped) it is opened again, to another node, after a pause. Every map and owner hint
 * wakes the channels of the owners it names ({@link ChannelPool#wake}), so that a node that
 * is back is not left waiting out gRPC's reconnect backoff. Only the hash
 * named {@value #HASH_NAME} is known; a server that names another one, or predates
 * GetShardMap, is sent every id unrouted, as the contract asks of clients that do not know
 * the hash.
 *
 * <p>Threads: any. The table is an immutable snapshot swapped atomically; at most one fetch is
 * in flight ({@link #lock} guards starting and finishing it).
 */
final class ShardRouter {

  /** The shard hash this client implements ({@link ShardHash}). */
  static final String HASH_NAME = ShardHash.NAME;

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

  /**
   * How long a map fetch waits for one address before asking the next one as well. Short, so
   * that a hung node (killed mid-call, or stopped) costs little; GetShardMap is answered from
   * memory, so a live node is far faster than this even when busy, and a slow one still
   * answers (its call is not cancelled until another one wins).
   */
  static final long HEDGE_DELAY_MILLIS = 250;

  private final List<String> targets;
  private final ChannelPool channels;
  private final ScheduledExecutorService timer;
  /**
   * Guarded by {@link #lock}: every node a map or an owner hint has named, in the order
   * learned. Never shrinks: it holds the nodes the cluster ever had, a handful, and lets the
   * client find the cluster again when its seeds are gone.
   */
  private final Set<String> learned = new LinkedHashSet<>();
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

  ShardRouter(List<String> targets, ChannelPool channels, ScheduledExecutorService timer) {
    this.targets = List.copyOf(targets);
    this.channels = channels;
    this.timer = timer;
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
   * Never fails: if no server answers, it keeps the last real map (or guesses an address).
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
      candidates = candidates();
    } finally {
      lock.unlock();
    }
    new Fetch(candidates, mine).askNext();
    return mine;
  }

  /**
   * Holding the lock: every address a fetch may ask, starting at a rotating one, so that
   * fetches spread over the nodes: the nodes of the current map, the seeds, then every other
   * node ever learned of.
   */
  private List<String> candidates() {
    Set<String> all = new LinkedHashSet<>();
    Table now = current;
    if (now != null && !now.provisional()) {
      all.addAll(now.addresses());
    }
    all.addAll(targets);
    all.addAll(learned);
    List<String> order = new ArrayList<>(all);
    Collections.rotate(order, -Math.floorMod(nextTarget++, order.size()));
    return order;
  }

  /**
   * One map fetch over {@code candidates}: asks the first; asks the next one when the last one
   * asked fails, or has not answered within {@link #HEDGE_DELAY_MILLIS}; takes the first
   * answer and cancels the calls still out. When every candidate has failed, it keeps the last
   * real map, or, with none, guesses the first candidate (a provisional table, fetched again
   * soon).
   *
   * <p>Threads: started on the caller's thread; answers arrive on gRPC threads, hedge timers
   * on the client's timer thread. {@link #fetchLock} guards the mutable fields.
   */
  private final class Fetch {
    private final List<String> candidates;
    private final CompletableFuture<Table> out;
    private final ReentrantLock fetchLock = new ReentrantLock();
    /** Guarded by fetchLock: the calls made, to cancel the losers. */
    private final List<Context.CancellableContext> calls = new ArrayList<>();
    /** Guarded by fetchLock: the index of the next candidate to ask. */
    private int next;
    /** Guarded by fetchLock: calls made and not yet answered. */
    private int pending;
    /** Guarded by fetchLock: the fetch has its outcome. */
    private boolean done;

    Fetch(List<String> candidates, CompletableFuture<Table> out) {
      this.candidates = candidates;
      this.out = out;
    }

    void askNext() {
      int index;
      String address;
      // Forked: the caller's own cancellation (say, a server handler's) must not end a fetch
      // that other calls share.
      Context.CancellableContext context = Context.current().fork().withCancellation();
      fetchLock.lock();
      try {
        if (done || next == candidates.size()) {
          return;
        }
        index = next++;
        address = candidates.get(index);
        pending++;
        calls.add(context);
      } finally {
        fetchLock.unlock();
      }
      CompletableFuture<GetShardMapResponse> call = new CompletableFuture<>();
      try {
        context.run(() -> channels.stub(address).getShardMap(
            GetShardMapRequest.getDefaultInstance(), Rpcs.observer(call)));
      } catch (RuntimeException e) {
        call.completeExceptionally(e);
      }
      call.whenComplete((map, failure) -> answered(index, address, map, failure));
      if (index + 1 < candidates.size()) {
        try {
          timer.schedule(() -> {
            if (noAnswerSince(index)) {
              askNext();
            }
          }, HEDGE_DELAY_MILLIS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
          // The client is closing: a failure still moves the fetch on.
        }
      }
    }

    /** True if nothing was asked after candidate {@code index}, and no answer won. */
    private boolean noAnswerSince(int index) {
      fetchLock.lock();
      try {
        return !done && next == index + 1;
      } finally {
        fetchLock.unlock();
      }
    }

    private void answered(int index, String address, GetShardMapResponse map, Throwable failure) {
      Table table = null;
      if (failure == null) {
        try {
          table = Table.fromProto(map, address);
        } catch (RuntimeException e) {
          log.log(Level.WARNING, "the shard map from {0} is unusable; asking another node: {1}",
              address, e);
        }
      } else if (Status.fromThrowable(failure).getCode() == Status.Code.UNIMPLEMENTED) {
        table = Table.unrouted(address, false); // a v1.0 server: it cannot tell, so it gets every id
      }
      boolean askMore = false;
      boolean allFailed = false;
      List<Context.CancellableContext> toCancel = List.of();
      fetchLock.lock();
      try {
        if (done) {
          return;
        }
        pending--;
        if (table != null) {
          done = true;
          toCancel = new ArrayList<>(calls);
          // Not the winner's: the callers' calls that its answer releases start on this
          // thread, in its context, and would be cancelled with it.
          toCancel.remove(index);
        } else if (next < candidates.size()) {
          askMore = true;
        } else if (pending == 0) {
          done = true;
          allFailed = true;
        }
      } finally {
        fetchLock.unlock();
      }
      if (table != null) {
        toCancel.forEach(c -> c.cancel(null));
        finish(table, out);
        if (failure == null) {
          watch(address);
        }
      } else if (askMore) {
        askNext();
      } else if (allFailed) {
        finishWithoutAnswer(candidates.get(0), out);
      }
    }
  }

  private void finish(Table table, CompletableFuture<Table> out) {
    Map<String, Boolean> wake;
    lock.lock();
    try {
      wake = install(table);
      fetching = null;
    } finally {
      lock.unlock();
    }
    wake(wake);
    out.complete(table);
  }

  /** No address answered: keep the last real map (it may be newer than the fetch), or guess. */
  private void finishWithoutAnswer(String guess, CompletableFuture<Table> out) {
    Table table;
    lock.lock();
    try {
      Table now = current;
      table = now != null && !now.provisional() ? now : Table.unrouted(guess, true);
      current = table;
      fetching = null;
    } finally {
      lock.unlock();
    }
    out.complete(table);
  }

  /**
   * Holding the lock: makes {@code table} current and learns the nodes it names. Returns the
   * owners to {@link #wake} once the lock is released: each owner the table names, true when
   * the table before did not name it (it came back).
   */
  private Map<String, Boolean> install(Table table) {
    Table before = current;
    current = table;
    if (!table.routed()) {
      return Map.of();
    }
    if (!table.provisional()) {
      learned.addAll(table.addresses());
    }
    Set<String> named = before == null ? Set.of() : before.addresses();
    Map<String, Boolean> wake = new LinkedHashMap<>();
    for (String owner : table.owners()) {
      wake.putIfAbsent(owner, !named.contains(owner));
    }
    return wake;
  }

  /**
   * The cluster names these owners: don't let a channel to one of them sit out gRPC's
   * reconnect backoff (see {@link ChannelPool#wake}). Not holding the lock.
   */
  private void wake(Map<String, Boolean> owners) {
    owners.forEach(channels::wake);
  }

  /**
   * Takes an owner hint from a per-id UNAVAILABLE answer ("another node owns this shard"):
   * the current table is patched if the hint's epoch is not older than what it holds, without
   * waiting for a full map fetch. Returns whether the table now sends the shard there. The
   * owner is woken like an owner a map names, since the cluster just said it serves.
   */
  boolean hint(ShardOwner owner) {
    Map<String, Boolean> wake = Map.of();
    lock.lock();
    try {
      Table now = current;
      if (now == null) {
        return false;
      }
      if (now.routed() && owner.getShard() < now.shardCount()
          && owner.getAddress().equals(now.owners()[owner.getShard()])) {
        wake = Map.of(owner.getAddress(), false);
        return true;
      }
      Table patched = now.withOwner(owner);
      if (patched == null) {
        return false;
      }
      wake = install(patched);
      return true;
    } finally {
      lock.unlock();
      wake(wake);
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
            Map<String, Boolean> wake = Map.of();
            lock.lock();
            try {
              if (!closed) {
                wake = install(table);
              }
            } finally {
              lock.unlock();
            }
            wake(wake);
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
