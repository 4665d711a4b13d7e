package dev.dedupe.server.shard;

/**
 * A request was skipped because its caller had given up (deadline passed or cancelled) before
 * its round was decided: nothing of it was recorded. Nobody reads this answer; it exists so
 * that the request's future completes and metrics count it.
 */
public final class CallerGaveUpException extends RuntimeException {

  public CallerGaveUpException(int shard) {
    super("shard " + shard + ": the caller gave up (deadline passed or cancelled) before its"
        + " request was decided; nothing was recorded");
  }
}
