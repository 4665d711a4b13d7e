package dev.dedupe.server.cluster;

import dev.dedupe.server.moves.MoveIds;
import dev.dedupe.server.moves.MoveJob;
import dev.dedupe.server.moves.MoveJobJson;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/** Reads and creations of move job znodes ({@code moves/}), shared by the API and the controller. */
final class MoveJobs {

  /** A job with the znode version it was read at: what a conditional write of it names. */
  record Versioned(MoveJob job, int version) {}

  private MoveJobs() {}

  /** Creates {@code job} as a new sequential znode; returns it with its id. */
  static MoveJob create(CuratorFramework zk, ClusterPaths paths, MoveJob job) throws Exception {
    String created = zk.create().creatingParentsIfNeeded()
        .withMode(CreateMode.PERSISTENT_SEQUENTIAL)
        .forPath(paths.moves() + "/" + MoveIds.ZNODE_PREFIX, MoveJobJson.toJson(job));
    return job.withId(MoveIds.fromZnodeName(created.substring(created.lastIndexOf('/') + 1)));
  }

  /** Every job, oldest first. */
  static List<Versioned> readAll(CuratorFramework zk, ClusterPaths paths) throws Exception {
    List<String> children;
    try {
      children = zk.getChildren().forPath(paths.moves());
    } catch (KeeperException.NoNodeException none) {
      return List.of();
    }
    List<Versioned> jobs = new ArrayList<>();
    for (String child : children) {
      if (!MoveIds.valid(child)) {
        continue; // not a job (nothing else is put here; tolerate it rather than fail)
      }
      read(zk, paths, MoveIds.fromZnodeName(child)).ifPresent(jobs::add);
    }
    jobs.sort(Comparator.comparingLong(v -> MoveIds.sequence(v.job().id())));
    return jobs;
  }

  /** One job, or empty if there is none with that id. */
  static Optional<Versioned> read(CuratorFramework zk, ClusterPaths paths, String id)
      throws Exception {
    Stat stat = new Stat();
    try {
      byte[] data = zk.getData().storingStatIn(stat).forPath(paths.move(id));
      return Optional.of(new Versioned(MoveJobJson.fromJson(id, data), stat.getVersion()));
    } catch (KeeperException.NoNodeException gone) {
      return Optional.empty();
    }
  }
}
