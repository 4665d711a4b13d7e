package dev.dedupe.server.replication;

import com.google.protobuf.ByteString;
import dev.dedupe.replica.v1.ReplicaServiceGrpc;
import dev.dedupe.replica.v1.InstallSnapshotRequest;
import dev.dedupe.replica.v1.InstallSnapshotResponse;
import dev.dedupe.server.copy.CopyThrottle;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.shard.ShardWriter;
import dev.dedupe.server.storage.ShardSnapshot;
import dev.dedupe.server.storage.SnapshotChunk;
import dev.dedupe.server.storage.SnapshotChunkCodec;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A leader's side of rebuilding a follower: takes a snapshot of its shard between rounds, sends
 * it chunk by chunk, and tells the replica where the follower stands after it. The leader keeps
 * the entries after the snapshot's position in its tail meanwhile (pinned), so that the
 * follower goes on from there with appends.
 *
 * <p><b>Throttled.</b> Every chunk's bytes are taken from the node's {@link CopyThrottle}
 * before it goes, so all the copies this node sends share one rate (docs/design.md, "Copy
 * throttle").
 *
 * <p><b>Resumable.</b> A copy cut short by the network (the stream broke, a chunk timed out,
 * the follower was unreachable) is kept: its RocksDB snapshot, the chunk the follower has not
 * confirmed, and the tail's pin, for {@link #RESUME_KEEP_NANOS}. The next ship to the same
 * follower, from the same leadership (same epoch), sends on from the chunk the follower
 * expects, under the same install id: the follower kept what it received (see
 * {@link SnapshotInstalls}). It starts over when the follower no longer has the install (it
 * restarted, or another install replaced it), when the leadership changed (another leader's
 * data is another source), or when the kept copy expired. A follower's refusal (a stale epoch,
 * a failed install) discards it too: what it refused cannot be resumed.
 */
public final class SnapshotShipping implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(SnapshotShipping.class);
  /** How long a follower has to take one chunk (about a MiB, written without sync). */
  private static final long CHUNK_DEADLINE_SECONDS = 30;
  /**
   * How long a copy cut short is kept for a resume. It holds a RocksDB snapshot (older versions
   * of the shard's keys stay on disk meanwhile) and pins the leader's log tail (within its hard
   * cap), so not for ever; ten minutes covers a network blip and a restarted proxy.
   */
  static final long RESUME_KEEP_NANOS = TimeUnit.MINUTES.toNanos(10);

  /** A copy in progress, or cut short and kept to resume. Used by one ship at a time. */
  private static final class Source {
    final String installId;
    final long epoch;
    final ShardSnapshot snapshot;
    final long pinned;
    final long total;
    final boolean estimated;
    /** The index of the chunk in {@link #held}, the first the follower has not confirmed. */
    long nextIndex;
    /** That chunk encoded, or null when not drawn from the snapshot yet. */
    byte[] held;
    boolean heldLast;
    /** The chunk after the held one, drawn ahead to know whether the held one is the last. */
    SnapshotChunk upcoming;
    /** Bytes the follower confirmed. */
    long copied;
    long keptAtNanos;

    Source(String installId, long epoch, ShardSnapshot snapshot, long pinned) {
      this.installId = installId;
      this.epoch = epoch;
      this.snapshot = snapshot;
      this.pinned = pinned;
      long estimate = snapshot.estimatedBytes();
      this.total = estimate;
      this.estimated = true;
      this.upcoming = snapshot.next();
    }

    /** Makes the next chunk the held one. */
    void draw() {
      SnapshotChunk current = upcoming;
      upcoming = snapshot.next();
      held = SnapshotChunkCodec.encode(current);
      heldLast = upcoming == null;
    }
  }

  private final String self;
  private final ShardSet shards;
  private final Function<String, ManagedChannel> channels;
  private final CopyThrottle throttle;
  private final CopyTracker tracker;
  private final LongSupplier nanos;
  /** Copies cut short, by shard/follower. */
  private final Map<String, Source> kept = new ConcurrentHashMap<>();
  private volatile boolean closed;

  public SnapshotShipping(String self, ShardSet shards, Function<String, ManagedChannel> channels,
      CopyThrottle throttle, CopyTracker tracker, LongSupplier nanos) {
    this.self = self;
    this.shards = shards;
    this.channels = channels;
    this.throttle = throttle;
    this.tracker = tracker;
    this.nanos = nanos;
  }

  /** Sends {@code replica}'s shard to {@code follower} at {@code address}; blocks until done. */
  void ship(ShardReplica replica, String follower, String address) {
    int shard = replica.shard();
    ShardWriter writer = shards.writer(shard);
    long epoch = replica.leaderEpoch();
    if (writer == null || address == null || epoch < 0 || closed) {
      replica.snapshotDone(follower, -1, null, null);
      return;
    }
    Source source = resumable(replica, follower, epoch);
    boolean resumed = source != null;
    if (source == null) {
      source = fresh(replica, writer, follower, epoch);
      if (source == null) {
        replica.snapshotDone(follower, -1, null, null);
        return;
      }
    }
    while (true) {
      Outcome outcome = send(replica, follower, address, source, resumed);
      if (outcome != Outcome.START_OVER) {
        return;
      }
      // The follower no longer has the install this copy resumed: take a new snapshot.
      discard(replica, source);
      source = fresh(replica, writer, follower, epoch);
      resumed = false;
      if (source == null) {
        replica.snapshotDone(follower, -1, null, null);
        return;
      }
    }
  }

  private enum Outcome { DONE, START_OVER }

  /** A kept copy for this follower under this leadership, or null; expired ones are closed. */
  private Source resumable(ShardReplica replica, String follower, long epoch) {
    Source s = kept.remove(CopyTracker.pair(replica.shard(), follower));
    if (s == null) {
      return null;
    }
    if (s.epoch != epoch || nanos.getAsLong() - s.keptAtNanos > RESUME_KEEP_NANOS) {
      log.info("shard {}: not resuming the copy to {} (install {}): {}", replica.shard(),
          follower, s.installId, s.epoch != epoch ? "the leadership changed" : "kept too long");
      discard(replica, s);
      return null;
    }
    log.info("shard {}: resuming the copy to {} (install {}) at chunk {}, {} bytes in",
        replica.shard(), follower, s.installId, s.nextIndex, s.copied);
    return s;
  }

  private Source fresh(ShardReplica replica, ShardWriter writer, String follower, long epoch) {
    int shard = replica.shard();
    ShardSnapshot snapshot;
    try {
      snapshot = writer.submit(store -> store == null ? null : store.openSnapshot()).join();
    } catch (RuntimeException e) {
      log.warn("shard {}: cannot take a snapshot for {}: {}", shard, follower, e.toString());
      return null;
    }
    if (snapshot == null) {
      return null;
    }
    long pinned = snapshot.position().seq();
    if (!replica.snapshotStarting(pinned)) {
      snapshot.close();
      return null;
    }
    Source s = new Source(UUID.randomUUID().toString(), epoch, snapshot, pinned);
    log.info("shard {}: sending a snapshot at {} to {} (install {}, about {} bytes)", shard,
        snapshot.position(), follower, s.installId, s.total);
    return s;
  }

  /** Sends the rest of {@code s}; hands the outcome to the replica unless starting over. */
  private Outcome send(ShardReplica replica, String follower, String address, Source s,
      boolean resumed) {
    int shard = replica.shard();
    long fromIndex = s.nextIndex;
    long sentNow = 0;
    tracker.started(shard, follower, s.total, s.estimated, s.copied);
    try {
      var stub = ReplicaServiceGrpc.newBlockingStub(channels.apply(address));
      while (true) {
        if (Thread.currentThread().isInterrupted() || closed) {
          throw new InterruptedException("the node is stopping");
        }
        if (s.held == null) {
          s.draw();
        }
        throttle.acquire(s.held.length);
        InstallSnapshotResponse response = stub
            .withDeadlineAfter(CHUNK_DEADLINE_SECONDS, TimeUnit.SECONDS)
            .installSnapshot(InstallSnapshotRequest.newBuilder().setLeaderNode(self)
                .setShard(shard).setEpoch(s.epoch).setInstallId(s.installId)
                .setIndex(s.nextIndex).setChunk(ByteString.copyFrom(s.held))
                .setLast(s.heldLast).build());
        sentNow += s.held.length;
        boolean confirmed = response.getAccepted()
            // The follower has this chunk already: it took it, and its answer was lost.
            || (response.getNextIndex() == s.nextIndex + 1 && !s.heldLast);
        if (!confirmed) {
          if (resumed && response.getNextIndex() == 0 && s.nextIndex > 0) {
            log.info("shard {}: {} no longer has install {} ({}); starting over", shard,
                follower, s.installId, response.getDetail());
            tracker.ended(new CopyTracker.Attempt(shard, follower, s.installId, fromIndex,
                sentNow, false));
            return Outcome.START_OVER;
          }
          throw new Refused("the follower refused chunk " + s.nextIndex + ": "
              + response.getDetail());
        }
        s.copied += s.held.length;
        tracker.accepted(shard, follower, s.held.length);
        if (s.heldLast) {
          log.info("shard {}: {} installed the snapshot at {} ({} chunks, {} bytes{})", shard,
              follower, s.snapshot.position(), s.nextIndex + 1, s.copied,
              fromIndex > 0 ? ", resumed at chunk " + fromIndex : "");
          tracker.ended(new CopyTracker.Attempt(shard, follower, s.installId, fromIndex,
              sentNow, true));
          s.snapshot.close();
          replica.snapshotDone(follower, s.pinned, PeerLink.fromProto(response.getPosition()),
              response.getStoreId());
          return Outcome.DONE;
        }
        s.nextIndex++;
        s.held = null;
      }
    } catch (StatusRuntimeException e) {
      // The network: the follower may hold every chunk it confirmed. Keep the copy to resume.
      log.warn("shard {}: sending a snapshot to {} was cut short at chunk {} ({} bytes in): {};"
          + " it resumes from there", shard, follower, s.nextIndex, s.copied, e.getStatus());
      tracker.ended(new CopyTracker.Attempt(shard, follower, s.installId, fromIndex, sentNow,
          false));
      keep(replica, follower, s);
      replica.snapshotDone(follower, -1, null, null);
      return Outcome.DONE;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail(replica, follower, s, fromIndex, sentNow, "the node is stopping");
      return Outcome.DONE;
    } catch (RuntimeException e) {
      fail(replica, follower, s, fromIndex, sentNow, e.toString());
      return Outcome.DONE;
    }
  }

  private void fail(ShardReplica replica, String follower, Source s, long fromIndex,
      long sentNow, String why) {
    log.warn("shard {}: sending a snapshot to {} failed: {}", replica.shard(), follower, why);
    tracker.ended(new CopyTracker.Attempt(replica.shard(), follower, s.installId, fromIndex,
        sentNow, false));
    s.snapshot.close();
    replica.snapshotDone(follower, s.pinned, null, null);
  }

  private void keep(ShardReplica replica, String follower, Source s) {
    if (closed) {
      discard(replica, s);
      return;
    }
    s.keptAtNanos = nanos.getAsLong();
    Source old = kept.put(CopyTracker.pair(replica.shard(), follower), s);
    if (old != null && old != s) {
      discard(replica, old);
    }
    if (closed) {
      // close() ran meanwhile and may have missed this one.
      Source again = kept.remove(CopyTracker.pair(replica.shard(), follower));
      if (again != null) {
        discard(replica, again);
      }
    }
  }

  /** Closes a copy that will not resume and releases the tail it pinned. */
  private static void discard(ShardReplica replica, Source s) {
    s.snapshot.close();
    replica.releasePin(s.epoch, s.pinned);
  }

  /**
   * Closes kept copies that can no longer resume: their replica no longer leads at their
   * epoch, or they were kept too long. The runtime's timer calls it, so that a kept snapshot
   * never outlives the leadership it was taken under by more than a tick.
   */
  void expire(java.util.function.IntFunction<ShardReplica> replicas) {
    long now = nanos.getAsLong();
    kept.entrySet().removeIf(e -> {
      Source s = e.getValue();
      int shard = Integer.parseInt(e.getKey().substring(0, e.getKey().indexOf('/')));
      ShardReplica r = replicas.apply(shard);
      boolean stale = r == null || r.servingEpochForShipping() != s.epoch
          || now - s.keptAtNanos > RESUME_KEEP_NANOS;
      if (stale) {
        log.info("shard {}: dropping the kept copy {} (the leadership changed or it expired)",
            shard, s.installId);
        s.snapshot.close();
        if (r != null) {
          r.releasePin(s.epoch, s.pinned);
        }
      }
      return stale;
    });
  }

  /** Copies kept to resume now (for tests and status). */
  int keptCopies() {
    return kept.size();
  }

  /** Closes every kept copy: before the shards' stores close (their snapshots must be gone). */
  @Override
  public void close() {
    closed = true;
    kept.values().forEach(s -> s.snapshot.close());
    kept.clear();
  }

  /** A follower's refusal: not the network, so the copy is not kept. */
  private static final class Refused extends RuntimeException {
    Refused(String message) {
      super(message, null, false, false);
    }
  }
}
