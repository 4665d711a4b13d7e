package dev.dedupe.server.cluster;

import dev.dedupe.server.replication.InSyncWriter;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.replication.VersionedShardState;
import java.util.Map;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * A leader's in-sync set changes, written to its shard's znode at the version it read.
 *
 * <p>Not fenced by the controller epoch: the leader is not the controller, and a change of
 * controller does not depose it. The shard znode's version is the fence instead. The controller
 * changes the leader only by writing that znode, so a leader deposed since its read (or any
 * other change) makes the write fail with BADVERSION rather than overwrite the new state; and a
 * controller decision read before the leader's write fails the same way and is decided again.
 */
public final class ZkInSyncWriter implements InSyncWriter {

  private final CuratorFramework zk;
  private final ClusterPaths paths;
  private final String nodeId;

  /** @param nodeId this node: only its own leadership may change an in-sync set */
  public ZkInSyncWriter(CuratorFramework zk, ClusterPaths paths, String nodeId) {
    this.zk = zk;
    this.paths = paths;
    this.nodeId = nodeId;
  }

  /**
   * @return the state as written, or empty if {@code read} does not name this node leader, or
   *     the znode is no longer at {@code read}'s version (or is gone)
   * @throws IllegalArgumentException if {@code inSync} leaves the leader out: a leader counts
   *     its own copy in every commit
   * @throws Exception if ZooKeeper cannot be reached; nothing may be assumed written
   */
  @Override
  public Optional<VersionedShardState> changeInSync(
      VersionedShardState read, Map<String, String> inSync) throws Exception {
    ShardState current = read.state();
    if (!current.isLeader(nodeId)) {
      return Optional.empty(); // not ours to change: this node does not lead at that epoch
    }
    if (!inSync.containsKey(nodeId)) {
      throw new IllegalArgumentException("shard " + current.shard() + ": leader " + nodeId
          + " cannot leave its own in-sync set " + inSync.keySet());
    }
    ShardState next = current.withIsr(inSync);
    try {
      Stat written = zk.setData().withVersion(read.version())
          .forPath(paths.shard(current.shard()), ShardStateJson.toJson(next));
      return Optional.of(new VersionedShardState(next, written.getVersion()));
    } catch (KeeperException.BadVersionException | KeeperException.NoNodeException changed) {
      return Optional.empty();
    }
  }
}
