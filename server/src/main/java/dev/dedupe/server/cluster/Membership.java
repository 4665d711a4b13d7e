package dev.dedupe.server.cluster;

import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.zookeeper.CreateMode;

/**
 * This node's registration: an ephemeral znode with its {@link NodeRegistration}, which Curator
 * re-creates after a session loss. The controller counts these to form the cluster, places
 * replicas by the zones they name, and elects leaders by the store identities they carry; the
 * admin view lists them.
 *
 * <p>Threads: {@link #publishStores} and {@link #markStopping} are called from the cluster
 * member's event thread only.
 */
public final class Membership implements AutoCloseable {

  private final PersistentNode node;
  /** What this node registers, with the stores last published. */
  private volatile NodeRegistration registration;
  /** Event thread only: what was last published. */
  private Map<Integer, String> published = Map.of();

  /** @param self this node's addresses and zone; its stores are published later */
  public Membership(CuratorFramework zk, ClusterPaths paths, String nodeId, NodeRegistration self) {
    this.registration = self.withStores(Map.of());
    this.node = new PersistentNode(zk, CreateMode.EPHEMERAL, false, paths.node(nodeId),
        registration.toJson()) {
      /**
       * PersistentNode.close deletes the znode in the foreground, with the client's retry
       * policy: while ZooKeeper is unreachable that blocks a stop for minutes. The znode is
       * ephemeral, so the delete only lets the others see this node leave before its session
       * ends: send it in the background, and let the session's end (the client is closed
       * right after) or its expiry (ZooKeeper down) remove it otherwise.
       */
      @Override
      protected void deleteNode() throws Exception {
        String path = getActualPath();
        if (path != null) {
          zk.delete().quietly().inBackground().forPath(path);
        }
      }
    };
  }

  /** Registers, and waits up to {@code timeoutMillis} for the znode to exist. */
  public void start(long timeoutMillis) {
    node.start();
    try {
      if (!node.waitForInitialCreate(timeoutMillis, TimeUnit.MILLISECONDS)) {
        throw new ClusterException("could not register in ZooKeeper within " + timeoutMillis + " ms", null);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ClusterException("interrupted while registering", e);
    }
  }

  /**
   * Publishes the identities of the shard stores this node has open, if they changed. The
   * PersistentNode keeps the data, so a re-created znode carries it too.
   */
  void publishStores(Map<Integer, String> stores) throws Exception {
    if (stores.equals(published)) {
      return;
    }
    registration = registration.withStores(stores);
    node.setData(registration.toJson());
    published = Map.copyOf(stores);
  }

  /**
   * Says in this node's registration that it is stopping, so that the controller hands its
   * leaderships over and elects it no more. Kept if the znode is re-created.
   */
  void markStopping() throws Exception {
    registration = registration.asStopping();
    node.setData(registration.toJson());
  }

  @Override
  public void close() {
    try {
      node.close();
    } catch (java.io.IOException e) {
      // The session's end removes the ephemeral znode anyway.
    }
  }
}
