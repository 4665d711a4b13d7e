package dev.dedupe.server.replication;

import java.util.Map;
import java.util.Optional;

/**
 * How a leader changes its shard's in-sync set in the coordinator (ZooKeeper in a cluster):
 * conditionally on the version it read, so that a leader deposed meanwhile, or a state changed
 * by the controller, makes the write fail instead of being overwritten.
 */
public interface InSyncWriter {

  /**
   * Writes {@code read}'s state with {@code inSync} as its in-sync set, if the coordinator
   * still holds {@code read}'s version.
   *
   * @return the state as written, or empty if the state changed since {@code read} (the caller
   *     re-reads: it may have been deposed)
   * @throws Exception if the coordinator cannot be reached; nothing may be assumed written
   */
  Optional<VersionedShardState> changeInSync(VersionedShardState read, Map<String, String> inSync)
      throws Exception;
}
