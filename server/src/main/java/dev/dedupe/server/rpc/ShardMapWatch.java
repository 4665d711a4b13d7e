package dev.dedupe.server.rpc;

import dev.dedupe.server.core.ShardDirectory;
import dev.dedupe.server.decision.ShardMap;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * One WatchShardMap stream: the current map at once, then the newest map after each change.
 * Only the newest map matters, so a slow client is sent the latest one when it is ready again
 * instead of a backlog. One lock serializes every call on the observer, which gRPC requires;
 * a ReentrantLock rather than synchronized, so that virtual threads do not pin.
 *
 * <p>A watch never ends by itself: it ends when the client cancels it, or when the server
 * shuts down and calls {@link #end}, which completes the stream (the contract: "the stream
 * ends when the node shuts down, and the client then asks another node").
 */
final class ShardMapWatch<M> {

  private final ShardDirectory shards;
  private final ServerCallStreamObserver<M> observer;
  private final Function<ShardMap, M> toMessage;
  /** Told when the watch is over, however it ended (the service's set of open watches). */
  private final Consumer<ShardMapWatch<?>> onFinished;
  private final ReentrantLock lock = new ReentrantLock();
  /** Guarded by lock: a change arrived while the client could not take it. */
  private boolean behind;
  private boolean done;
  /** Guarded by lock: the map-change listener, once subscribed. */
  private AutoCloseable subscription;

  ShardMapWatch(ShardDirectory shards, ServerCallStreamObserver<M> observer,
      Function<ShardMap, M> toMessage, Consumer<ShardMapWatch<?>> onFinished) {
    this.shards = shards;
    this.observer = observer;
    this.toMessage = toMessage;
    this.onFinished = onFinished;
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
    AutoCloseable subscribed = shards.onMapChange(this::changed);
    boolean over;
    lock.lock();
    try {
      subscription = subscribed;
      over = done; // ended by a shutdown before it had subscribed
    } finally {
      lock.unlock();
    }
    if (over) {
      unsubscribe(subscribed);
      return;
    }
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

  /** Completes the stream (the server is shutting down); nothing is sent after it. */
  void end() {
    lock.lock();
    try {
      if (done) {
        return;
      }
      done = true;
      try {
        observer.onCompleted();
      } catch (RuntimeException cancelled) {
        // The client went away meanwhile; there is nobody left to tell.
      }
    } finally {
      lock.unlock();
    }
    release();
  }

  /** The client cancelled, or a send failed: stop sending. */
  private void stop() {
    lock.lock();
    try {
      done = true;
    } finally {
      lock.unlock();
    }
    release();
  }

  private void release() {
    AutoCloseable subscribed;
    lock.lock();
    try {
      subscribed = subscription;
    } finally {
      lock.unlock();
    }
    unsubscribe(subscribed);
    onFinished.accept(this);
  }

  private static void unsubscribe(AutoCloseable subscription) {
    try {
      if (subscription != null) {
        subscription.close();
      }
    } catch (Exception e) {
      // Nothing to release beyond the listener.
    }
  }
}
