package dev.dedupe.server.rpc;

import dev.dedupe.server.core.ShardDirectory;
import dev.dedupe.server.core.ShardMap;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * One WatchShardMap stream: the current map at once, then the newest map after each change.
 * Only the newest map matters, so a slow client is sent the latest one when it is ready again
 * instead of a backlog. One lock serializes every call on the observer, which gRPC requires;
 * a ReentrantLock rather than synchronized, so that virtual threads do not pin.
 */
final class ShardMapWatch<M> {

  private final ShardDirectory shards;
  private final ServerCallStreamObserver<M> observer;
  private final Function<ShardMap, M> toMessage;
  private final ReentrantLock lock = new ReentrantLock();
  /** Guarded by lock: a change arrived while the client could not take it. */
  private boolean behind;
  private boolean done;
  private AutoCloseable subscription;

  ShardMapWatch(ShardDirectory shards, ServerCallStreamObserver<M> observer,
      Function<ShardMap, M> toMessage) {
    this.shards = shards;
    this.observer = observer;
    this.toMessage = toMessage;
  }

  void start() {
    observer.setOnCancelHandler(this::stop);
    observer.setOnReadyHandler(() -> {
      lock.lock();
      try {
        if (behind) {
          send();
        }
      } finally {
        lock.unlock();
      }
    });
    subscription = shards.onMapChange(this::changed);
    changed();
  }

  private void changed() {
    lock.lock();
    try {
      if (done) {
        return;
      }
      if (observer.isReady()) {
        send();
      } else {
        behind = true;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Call with the lock held. */
  private void send() {
    behind = false;
    try {
      observer.onNext(toMessage.apply(shards.map()));
    } catch (RuntimeException cancelled) {
      stop();
    }
  }

  private void stop() {
    lock.lock();
    try {
      done = true;
    } finally {
      lock.unlock();
    }
    try {
      if (subscription != null) {
        subscription.close();
      }
    } catch (Exception e) {
      // Nothing to release beyond the listener.
    }
  }
}
