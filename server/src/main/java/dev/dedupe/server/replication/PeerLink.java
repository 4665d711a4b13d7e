package dev.dedupe.server.replication;

import com.google.protobuf.ByteString;
import dev.dedupe.replica.v1.AppendRequest;
import dev.dedupe.replica.v1.AppendResponse;
import dev.dedupe.replica.v1.ReplicaServiceGrpc;
import dev.dedupe.replica.v1.ShardAck;
import dev.dedupe.replica.v1.ShardAppend;
import dev.dedupe.server.storage.LogPosition;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The link from this node to one follower node: carries the entries of every shard this node
 * leads and that node follows, in one Append call at a time. While a call is in flight the next
 * batch gathers, so under load each call carries many rounds of many shards and the follower
 * makes them durable with one fsync (group commit across shards, as on the leader).
 *
 * <p>Threads: {@link #wake} from any thread; sending runs on the shared executor, one task at
 * a time per link; answers arrive on gRPC's threads.
 */
final class PeerLink {

  /** How much of the entries one call carries per shard, about. */
  static final long MAX_BYTES_PER_SHARD = 1 << 20;
  /**
   * Entries per call, over all shards: well under the replication listener's message limit
   * ({@link ReplicationServer#MAX_MESSAGE_BYTES}) whatever the shard count.
   */
  static final long MAX_BYTES_PER_CALL = 16L << 20;
  /** How long a follower has to answer an append. */
  static final long APPEND_DEADLINE_MILLIS = 5_000;

  private record Sent(ShardReplica replica, long epoch) {}

  private final String self;
  private final String follower;
  private final Supplier<ManagedChannel> channel;
  private final Supplier<Collection<ShardReplica>> replicas;
  private final Executor executor;
  private final Object lock = new Object();
  private boolean running;
  private boolean wanted;

  PeerLink(String self, String follower, Supplier<ManagedChannel> channel,
      Supplier<Collection<ShardReplica>> replicas, Executor executor) {
    this.self = self;
    this.follower = follower;
    this.channel = channel;
    this.replicas = replicas;
    this.executor = executor;
  }

  String follower() {
    return follower;
  }

  /** There may be something to send. */
  /** Which shard the next call starts from; the sending thread only (one call at a time). */
  private int rotation;

  void wake() {
    synchronized (lock) {
      wanted = true;
      if (running) {
        return;
      }
      running = true;
    }
    executor.execute(this::sendNext);
  }

  private void sendNext() {
    synchronized (lock) {
      wanted = false;
    }
    AppendRequest.Builder request = AppendRequest.newBuilder().setLeaderNode(self);
    List<Sent> sent = new ArrayList<>();
    List<ShardReplica> all = List.copyOf(replicas.get());
    // Starts one shard further each call, so that when the per-call cap cuts a batch short,
    // the shards left out go first next time.
    int first = all.isEmpty() ? 0 : Math.floorMod(rotation++, all.size());
    long bytes = 0;
    for (int i = 0; i < all.size() && bytes < MAX_BYTES_PER_CALL; i++) {
      ShardReplica r = all.get((first + i) % all.size());
      ShardReplica.Append a = r.nextAppend(follower, MAX_BYTES_PER_SHARD);
      if (a == null) {
        continue;
      }
      for (byte[] e : a.entries()) {
        bytes += e.length;
      }
      ShardAppend.Builder shard = ShardAppend.newBuilder().setShard(r.shard()).setEpoch(a.epoch())
          .setPrevious(toProto(a.previous()));
      a.entries().forEach(e -> shard.addEntries(ByteString.copyFrom(e)));
      request.addShards(shard);
      sent.add(new Sent(r, a.epoch()));
    }
    if (sent.isEmpty()) {
      synchronized (lock) {
        if (!wanted) {
          running = false;
          return;
        }
      }
      executor.execute(this::sendNext);
      return;
    }
    ManagedChannel ch = channel.get();
    if (ch == null) {
      // The follower is not registered now: its replicas retry after their backoff, when the
      // runtime's timer wakes this link again.
      sent.forEach(s -> s.replica().onSendFailed(follower));
      synchronized (lock) {
        running = false;
      }
      return;
    }
    ReplicaServiceGrpc.newStub(ch).withDeadlineAfter(APPEND_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
        .append(request.build(), new StreamObserver<>() {
          @Override
          public void onNext(AppendResponse response) {
            for (int i = 0; i < sent.size(); i++) {
              Sent s = sent.get(i);
              if (i < response.getShardsCount()) {
                s.replica().onAck(follower, s.epoch(), fromProto(response.getShards(i)));
              } else {
                s.replica().onSendFailed(follower);
              }
            }
          }

          @Override
          public void onError(Throwable t) {
            sent.forEach(s -> s.replica().onSendFailed(follower));
            finished();
          }

          @Override
          public void onCompleted() {
            finished();
          }
        });
  }

  /** A call ended: go on with whatever gathered meanwhile. */
  private void finished() {
    executor.execute(this::sendNext);
  }

  static dev.dedupe.replica.v1.LogPosition toProto(LogPosition p) {
    return dev.dedupe.replica.v1.LogPosition.newBuilder().setEpoch(p.epoch()).setSeq(p.seq())
        .build();
  }

  static LogPosition fromProto(dev.dedupe.replica.v1.LogPosition p) {
    return new LogPosition(p.getEpoch(), p.getSeq());
  }

  private static ShardReplica.AckView fromProto(ShardAck ack) {
    ShardReplica.AckView.Outcome outcome = switch (ack.getOutcome()) {
      case OUTCOME_APPLIED -> ShardReplica.AckView.Outcome.APPLIED;
      case OUTCOME_STALE_EPOCH -> ShardReplica.AckView.Outcome.STALE_EPOCH;
      case OUTCOME_MISMATCH -> ShardReplica.AckView.Outcome.MISMATCH;
      case OUTCOME_NOT_FOLLOWING -> ShardReplica.AckView.Outcome.NOT_FOLLOWING;
      default -> ShardReplica.AckView.Outcome.FAILED;
    };
    return new ShardReplica.AckView(outcome, fromProto(ack.getPosition()), ack.getKnownEpoch(),
        ack.getStoreId(), ack.getDetail());
  }
}
