package dev.dedupe.server.replication;

import dev.dedupe.replica.v1.InstallSnapshotRequest;
import dev.dedupe.replica.v1.InstallSnapshotResponse;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.shard.ShardWriter;
import dev.dedupe.server.storage.LogPosition;
import dev.dedupe.server.storage.ShardInstall;
import dev.dedupe.server.storage.ShardStore;
import dev.dedupe.server.storage.SnapshotChunkCodec;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A follower's side of being rebuilt: the first chunk of an install closes the shard's store and
 * deletes its data; each chunk is written as it comes; the last completes the install and
 * reopens the store on the copy, with a new store identity (a rebuilt replica is not the one
 * that was in sync before). An install that fails here (a refused or broken chunk) is aborted:
 * the shard reopens empty and the leader sends a snapshot again.
 *
 * <p>An install whose stream is cut short (the leader's call broke or timed out) stays as it
 * is, with the chunks it took written to the shard's column families: every answer says which
 * chunk it expects next ({@code next_index}), and the leader resumes from there under the same
 * install id. It is replaced by a chunk 0 of another install (another leader, or the same one
 * starting over). It also outlives a restart: each accepted chunk is staged, synced, before
 * the answer ({@code ShardInstall.stage}), and after a restart the shard waits with no store;
 * the leader's next chunk of the same install takes the staged install up again where it
 * stopped ({@code NodeStore.resumeInstall}).
 */
public final class SnapshotInstalls {

  private static final Logger log = LoggerFactory.getLogger(SnapshotInstalls.class);

  private record Install(String id, long nextIndex, ShardInstall install) {}

  private final ReplicationRuntime runtime;
  private final ShardSet shards;
  private final Map<Integer, Install> running = new HashMap<>();

  private final CopyTracker tracker;

  public SnapshotInstalls(ReplicationRuntime runtime, ShardSet shards, CopyTracker tracker) {
    this.runtime = runtime;
    this.shards = shards;
    this.tracker = tracker;
  }

  /** Takes one chunk; answers whether it was accepted (and, after the last, where it stands). */
  synchronized CompletableFuture<InstallSnapshotResponse> accept(InstallSnapshotRequest request) {
    int shard = request.getShard();
    ShardWriter writer = shards.writer(shard);
    if (writer == null) {
      return refused("shard " + shard + " is not open on this node");
    }
    ShardReplica replica = runtime.replica(shard);
    Install current = running.get(shard);
    try {
      if (current == null && request.getIndex() > 0) {
        current = resumeStaged(shard, request, replica);
      }
      if (request.getIndex() == 0) {
        if (!replica.mayInstall(request.getEpoch())) {
          return refused("not following shard " + shard + " at epoch " + request.getEpoch());
        }
        if (current != null) {
          current.install().abort();
          running.remove(shard);
        }
        writer.detachStore().join();
        current = new Install(request.getInstallId(), 0,
            shards.nodeStore().beginInstall(shard));
        running.put(shard, current);
        log.info("shard {}: replacing this replica with a snapshot from {} (install {})", shard,
            request.getLeaderNode(), request.getInstallId());
      } else if (current == null || !current.id().equals(request.getInstallId())
          || current.nextIndex() != request.getIndex()) {
        boolean same = current != null && current.id().equals(request.getInstallId());
        return CompletableFuture.completedFuture(InstallSnapshotResponse.newBuilder()
            .setAccepted(false).setNextIndex(same ? current.nextIndex() : 0)
            .setDetail("chunk " + request.getIndex() + " of install " + request.getInstallId()
                + (same ? " does not continue the install in progress, which expects chunk "
                    + current.nextIndex() : " names no install in progress here"))
            .build());
      }
      current.install().accept(SnapshotChunkCodec.decode(request.getChunk().toByteArray()));
      tracker.received(request.getChunk().size());
      if (!request.getLast()) {
        // Durable before the answer: what the leader hears as taken survives a restart here.
        current.install().stage(current.id(), request.getEpoch(), current.nextIndex() + 1);
        running.put(shard, new Install(current.id(), current.nextIndex() + 1, current.install()));
        return CompletableFuture.completedFuture(InstallSnapshotResponse.newBuilder()
            .setAccepted(true).setNextIndex(current.nextIndex() + 1).build());
      }
      running.remove(shard);
      LogPosition at = current.install().finish();
      ShardStore store = shards.nodeStore().openShard(shard, shards.grid());
      writer.attachStore(store).join();
      runtime.storesChanged(shard);
      return CompletableFuture.completedFuture(InstallSnapshotResponse.newBuilder()
          .setAccepted(true).setPosition(PeerLink.toProto(at)).setStoreId(store.storeId())
          .build());
    } catch (RuntimeException e) {
      log.warn("shard {}: install {} failed: {}", shard, request.getInstallId(), e.toString());
      Install failed = running.remove(shard);
      if (failed != null) {
        failed.install().abort();
      }
      reopenEmpty(shard, writer);
      return refused(e.toString());
    }
  }

  /**
   * The install a restart interrupted, taken up again if {@code request} continues it (the
   * same install, from a leader this replica still follows), or null.
   */
  private Install resumeStaged(int shard, InstallSnapshotRequest request, ShardReplica replica) {
    var stage = shards.nodeStore().stagedInstall(shard);
    if (stage.isEmpty() || !stage.get().installId().equals(request.getInstallId())
        || !replica.mayInstall(request.getEpoch())) {
      return null;
    }
    Install resumed = new Install(stage.get().installId(), stage.get().nextIndex(),
        shards.nodeStore().resumeInstall(shard));
    running.put(shard, resumed);
    log.info("shard {}: resuming install {} from {} at chunk {}, kept across a restart", shard,
        resumed.id(), request.getLeaderNode(), resumed.nextIndex());
    return resumed;
  }

  /** After a failed install the shard reopens empty, so that the writer has a store again. */
  private void reopenEmpty(int shard, ShardWriter writer) {
    if (!writer.storeId().isEmpty()) {
      return;
    }
    try {
      writer.attachStore(shards.nodeStore().openShard(shard, shards.grid())).join();
      runtime.storesChanged(shard);
    } catch (RuntimeException e) {
      log.error("shard {}: cannot reopen after a failed install: {}", shard, e.toString());
    }
  }

  private static CompletableFuture<InstallSnapshotResponse> refused(String why) {
    return CompletableFuture.completedFuture(
        InstallSnapshotResponse.newBuilder().setAccepted(false).setDetail(why).build());
  }
}
