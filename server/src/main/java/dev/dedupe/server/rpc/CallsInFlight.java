package dev.dedupe.server.rpc;

import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Counts the calls of one service that are in flight, so that a shutdown can wait for exactly
 * those (up to its grace period) and not for streams of other services that never end by
 * themselves, such as a client's {@code grpc.health.v1.Health/Watch}.
 *
 * <p>A call counts from the moment it starts until its listener hears {@code onComplete} or
 * {@code onCancel}, one of which gRPC calls exactly once at the end of every call; a completed
 * stream therefore counts until its status has been handed to the transport.
 */
final class CallsInFlight implements ServerInterceptor {

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition none = lock.newCondition();
  /** Guarded by lock. */
  private int inFlight;

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    change(+1);
    ServerCall.Listener<ReqT> listener;
    try {
      listener = next.startCall(call, headers);
    } catch (RuntimeException e) {
      change(-1); // gRPC closes a call whose start failed; no listener will hear of it
      throw e;
    }
    return new SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onComplete() {
        try {
          super.onComplete();
        } finally {
          change(-1);
        }
      }

      @Override
      public void onCancel() {
        try {
          super.onCancel();
        } finally {
          change(-1);
        }
      }
    };
  }

  private void change(int by) {
    lock.lock();
    try {
      inFlight += by;
      if (inFlight == 0) {
        none.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  /** How many calls are in flight now. */
  int count() {
    lock.lock();
    try {
      return inFlight;
    } finally {
      lock.unlock();
    }
  }

  /** Waits until no call is in flight; false if the time ran out first. */
  boolean awaitNone(long timeoutMillis) throws InterruptedException {
    long left = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    lock.lock();
    try {
      while (inFlight > 0) {
        if (left <= 0) {
          return false;
        }
        left = none.awaitNanos(left);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }
}
