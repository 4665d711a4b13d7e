package dev.dedupe.server.cluster;

/**
 * A controller's write was rejected because another controller took over since this one was
 * elected (the controller epoch moved). Never retried: the writer is no longer the controller.
 */
public final class NotControllerException extends RuntimeException {

  public NotControllerException(long myEpoch, String what) {
    super("not the controller any more (elected at controller epoch " + myEpoch
        + "; another controller took over): " + what + " was rejected");
  }
}
