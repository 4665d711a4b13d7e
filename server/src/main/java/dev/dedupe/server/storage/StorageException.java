package dev.dedupe.server.storage;

/**
 * A shard store could not do what was asked (an I/O error, a store in a failed state, a store
 * that is closed). The request that met it is answered UNAVAILABLE and nothing of it is
 * acknowledged; the message says what was being done to which shard.
 */
public class StorageException extends RuntimeException {

  public StorageException(String message) {
    super(message);
  }

  public StorageException(String message, Throwable cause) {
    super(message, cause);
  }
}
