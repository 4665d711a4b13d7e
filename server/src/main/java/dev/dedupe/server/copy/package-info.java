/**
 * Copies of shard data between nodes, as an admin sees and steers them: the node-wide
 * throttle on snapshot bytes ({@link dev.dedupe.server.copy.CopyThrottle}, set cluster-wide as a
 * {@link dev.dedupe.server.copy.Throttle}), byte rates as admins type them
 * ({@link dev.dedupe.server.copy.ByteRate}), and the progress a leader publishes while it
 * copies a shard to a follower ({@link dev.dedupe.server.copy.CopyProgress}). Depends on no
 * other package of the server, so that replication, the cluster, the API and the CLI share it.
 */
package dev.dedupe.server.copy;
