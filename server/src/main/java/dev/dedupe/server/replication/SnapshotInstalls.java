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
 * that was in sync before). An install cut short (the leader gone, a refused chunk) is aborted:
 * the shard reopens empty and the leader sends a snapshot again.
 */
public final class SnapshotInstalls {

  private static final Logger log = LoggerFactory.getLogger(SnapshotInstalls.class);

  private record Install(String id, long nextIndex, ShardInstall install) {}

  private final ReplicationRuntime runtime;
  private final ShardSet shards;
  private final Map<Integer, Install> running = new HashMap<>();

  public SnapshotInstalls(ReplicationRuntime runtime, ShardSet shards) {
    this.runtime = runtime;
    this.shards = shards;
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
        return refused("chunk " + request.getIndex() + " of install " + request.getInstallId()
            + " does not continue the install in progress");
      }
      current.install().accept(SnapshotChunkCodec.decode(request.getChunk().toByteArray()));
      if (!request.getLast()) {
        running.put(shard, new Install(current.id(), current.nextIndex() + 1, current.install()));
        return CompletableFuture.completedFuture(
            InstallSnapshotResponse.newBuilder().setAccepted(true).build());
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
