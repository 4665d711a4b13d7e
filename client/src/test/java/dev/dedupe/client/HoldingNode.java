package dev.dedupe.client;

import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckAndInsertResponse;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.ShardOwner;
import dev.dedupe.v1.Verdict;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fake dedupe node on loopback Netty for batching tests: it records every CheckAndInsert
 * request in arrival order and, while holding, keeps each one unanswered until the test
 * answers it ({@link #answerOldest}) or fails it ({@link #failOldest}). It decides ids like
 * the real node (NEW the first time, DUPLICATE after), in the order it answers them, and
 * counts the most requests it ever held unanswered at once, which bounds what the client had
 * in flight. Its shard map names itself for every shard; it has no WatchShardMap (the client
 * falls back to fetching the map).
 */
final class HoldingNode implements AutoCloseable {

  private static final int SHARDS = 4;

  private record Held(CheckAndInsertRequest request, StreamObserver<CheckAndInsertResponse> out) {}

  private final ReentrantLock lock = new ReentrantLock();
  /** Guarded by lock. */
  private final List<CheckAndInsertRequest> received = new ArrayList<>();
  /** Guarded by lock: requests not yet answered, oldest first. */
  private final ArrayDeque<Held> held = new ArrayDeque<>();
  /** Guarded by lock: ids recorded so far. */
  private final Set<String> recorded = new HashSet<>();
  /** Guarded by lock. */
  private boolean holding;
  /** Guarded by lock: the most requests held unanswered at once (while holding). */
  private int maxOutstanding;
  /** Guarded by lock: requests that arrived while another unanswered one held one of their ids. */
  private final List<CheckAndInsertRequest> overlapping = new ArrayList<>();

  private final Server server;

  private HoldingNode(boolean holding) throws IOException {
    this.holding = holding;
    this.server = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
        .addService(new Service()).build().start();
  }

  /** A node that holds every request until the test answers it. */
  static HoldingNode holding() throws IOException {
    return new HoldingNode(true);
  }

  String address() {
    return "127.0.0.1:" + server.getPort();
  }

  /** The CheckAndInsert requests received so far, in arrival order. */
  List<CheckAndInsertRequest> received() {
    lock.lock();
    try {
      return List.copyOf(received);
    } finally {
      lock.unlock();
    }
  }

  /** The ids of each request received so far, in arrival order. */
  List<List<String>> receivedIds() {
    return received().stream().map(r -> List.copyOf(r.getMessageIdsList())).toList();
  }

  int heldCount() {
    lock.lock();
    try {
      return held.size();
    } finally {
      lock.unlock();
    }
  }

  int maxOutstanding() {
    lock.lock();
    try {
      return maxOutstanding;
    } finally {
      lock.unlock();
    }
  }

  List<CheckAndInsertRequest> overlapping() {
    lock.lock();
    try {
      return List.copyOf(overlapping);
    } finally {
      lock.unlock();
    }
  }

  /** Answers every held request, and every later one at once. */
  void stopHolding() {
    List<Held> answer;
    lock.lock();
    try {
      holding = false;
      answer = new ArrayList<>(held);
      held.clear();
    } finally {
      lock.unlock();
    }
    answer.forEach(this::answer);
  }

  /** Answers every later request at once; what is held stays held. */
  void answerFromNowOn() {
    lock.lock();
    try {
      holding = false;
    } finally {
      lock.unlock();
    }
  }

  /** Holds every later request until the test answers it. */
  void holdFromNowOn() {
    lock.lock();
    try {
      holding = true;
    } finally {
      lock.unlock();
    }
  }

  /** Answers the oldest held request (the ids decided as the real node would). */
  void answerOldest() {
    Held h = takeOldest();
    answer(h);
  }

  /** Fails the oldest held request with {@code status}, recording nothing. */
  void failOldest(Status status) {
    Held h = takeOldest();
    h.out().onError(status.asRuntimeException());
  }

  /** Answers the held request that holds {@code id}. */
  void answerHolding(String id) {
    answer(takeHolding(id));
  }

  /** Fails the held request that holds {@code id} with {@code status}, recording nothing. */
  void failHolding(String id, Status status) {
    takeHolding(id).out().onError(status.asRuntimeException());
  }

  private Held takeHolding(String id) {
    lock.lock();
    try {
      for (Held h : held) {
        if (h.request().getMessageIdsList().contains(id)) {
          held.remove(h);
          return h;
        }
      }
      throw new AssertionError("no held request holds '" + id + "'");
    } finally {
      lock.unlock();
    }
  }

  /** Waits until exactly {@code n} requests are held unanswered. */
  void awaitHeld(int n) throws InterruptedException {
    TestNode.awaitCondition(Duration.ofSeconds(60), n + " request(s) held at the node",
        () -> heldCount() == n);
  }

  private Held takeOldest() {
    lock.lock();
    try {
      Held h = held.pollFirst();
      if (h == null) {
        throw new AssertionError("no request is held");
      }
      return h;
    } finally {
      lock.unlock();
    }
  }

  private void answer(Held h) {
    CheckAndInsertResponse.Builder reply = CheckAndInsertResponse.newBuilder();
    lock.lock();
    try {
      for (String id : h.request().getMessageIdsList()) {
        boolean isNew = recorded.add(id);
        reply.addResults(IdResult.newBuilder()
            .setVerdict(isNew ? Verdict.VERDICT_NEW : Verdict.VERDICT_DUPLICATE));
      }
    } finally {
      lock.unlock();
    }
    h.out().onNext(reply.build());
    h.out().onCompleted();
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }

  private final class Service extends DedupeServiceGrpc.DedupeServiceImplBase {

    @Override
    public void getShardMap(GetShardMapRequest request, StreamObserver<GetShardMapResponse> out) {
      GetShardMapResponse.Builder map = GetShardMapResponse.newBuilder()
          .setShardCount(SHARDS).setHash(ShardRouter.HASH_NAME);
      for (int s = 0; s < SHARDS; s++) {
        map.addOwners(ShardOwner.newBuilder().setShard(s).setAddress(address()).setEpoch(1));
      }
      out.onNext(map.build());
      out.onCompleted();
    }

    @Override
    public void checkAndInsert(
        CheckAndInsertRequest request, StreamObserver<CheckAndInsertResponse> out) {
      Held h = new Held(request, out);
      boolean hold;
      lock.lock();
      try {
        received.add(request);
        for (Held other : held) {
          if (other.request().getMessageIdsList().stream()
              .anyMatch(request.getMessageIdsList()::contains)) {
            overlapping.add(request);
            break;
          }
        }
        hold = holding;
        held.addLast(h);
        maxOutstanding = Math.max(maxOutstanding, held.size());
        if (!hold) {
          held.removeLast();
        }
      } finally {
        lock.unlock();
      }
      if (!hold) {
        answer(h);
      }
    }
  }
}
