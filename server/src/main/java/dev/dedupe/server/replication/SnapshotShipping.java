package dev.dedupe.server.replication;

import com.google.protobuf.ByteString;
import dev.dedupe.replica.v1.ReplicaServiceGrpc;
import dev.dedupe.replica.v1.InstallSnapshotRequest;
import dev.dedupe.replica.v1.InstallSnapshotResponse;
import dev.dedupe.server.shard.ShardSet;
import dev.dedupe.server.shard.ShardWriter;
import dev.dedupe.server.storage.ShardSnapshot;
import dev.dedupe.server.storage.SnapshotChunk;
import dev.dedupe.server.storage.SnapshotChunkCodec;
import io.grpc.ManagedChannel;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A leader's side of rebuilding a follower: takes a snapshot of its shard between rounds, sends
 * it chunk by chunk, and tells the replica where the follower stands after it. The leader keeps
 * the entries after the snapshot's position in its tail meanwhile (pinned), so that the
 * follower goes on from there with appends.
 */
public final class SnapshotShipping {

  private static final Logger log = LoggerFactory.getLogger(SnapshotShipping.class);
  /** How long a follower has to take one chunk (about a MiB, written without sync). */
  private static final long CHUNK_DEADLINE_SECONDS = 30;

  private final String self;
  private final ShardSet shards;
  private final Function<String, ManagedChannel> channels;

  public SnapshotShipping(String self, ShardSet shards, Function<String, ManagedChannel> channels) {
    this.self = self;
    this.shards = shards;
    this.channels = channels;
  }

  /** Sends {@code replica}'s shard to {@code follower} at {@code address}; blocks until done. */
  void ship(ShardReplica replica, String follower, String address) {
    int shard = replica.shard();
    ShardWriter writer = shards.writer(shard);
    long epoch = replica.leaderEpoch();
    if (writer == null || address == null || epoch < 0) {
      replica.snapshotDone(follower, -1, null, null);
      return;
    }
    ShardSnapshot snapshot;
    try {
      snapshot = writer.submit(store -> store == null ? null : store.openSnapshot()).join();
    } catch (RuntimeException e) {
      log.warn("shard {}: cannot take a snapshot for {}: {}", shard, follower, e.toString());
      replica.snapshotDone(follower, -1, null, null);
      return;
    }
    if (snapshot == null) {
      replica.snapshotDone(follower, -1, null, null);
      return;
    }
    long pinned = snapshot.position().seq();
    if (!replica.snapshotStarting(pinned)) {
      snapshot.close();
      replica.snapshotDone(follower, -1, null, null);
      return;
    }
    String installId = UUID.randomUUID().toString();
    log.info("shard {}: sending a snapshot at {} to {} (install {})", shard, snapshot.position(),
        follower, installId);
    try (snapshot) {
      var stub = ReplicaServiceGrpc.newBlockingStub(channels.apply(address));
      long index = 0;
      long bytes = 0;
      SnapshotChunk chunk = snapshot.next();
      while (chunk != null) {
        if (Thread.currentThread().isInterrupted()) {
          throw new IllegalStateException("interrupted: the node is stopping");
        }
        SnapshotChunk next = snapshot.next();
        byte[] encoded = SnapshotChunkCodec.encode(chunk);
        bytes += encoded.length;
        InstallSnapshotResponse response = stub
            .withDeadlineAfter(CHUNK_DEADLINE_SECONDS, TimeUnit.SECONDS)
            .installSnapshot(InstallSnapshotRequest.newBuilder().setLeaderNode(self)
                .setShard(shard).setEpoch(epoch).setInstallId(installId).setIndex(index++)
                .setChunk(ByteString.copyFrom(encoded)).setLast(next == null).build());
        if (!response.getAccepted()) {
          throw new IllegalStateException("the follower refused chunk " + (index - 1) + ": "
              + response.getDetail());
        }
        if (next == null) {
          log.info("shard {}: {} installed the snapshot at {} ({} chunks, {} bytes)", shard,
              follower, snapshot.position(), index, bytes);
          replica.snapshotDone(follower, pinned, PeerLink.fromProto(response.getPosition()),
              response.getStoreId());
          return;
        }
        chunk = next;
      }
    } catch (RuntimeException e) {
      log.warn("shard {}: sending a snapshot to {} failed: {}", shard, follower, e.toString());
    }
    replica.snapshotDone(follower, pinned, null, null);
  }
}
