package dev.dedupe.server.cluster;

/** A coordination step failed; the message says which, for which node or shard. */
public class ClusterException extends RuntimeException {

  public ClusterException(String message, Throwable cause) {
    super(message, cause);
  }
}
