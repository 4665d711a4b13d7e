package dev.dedupe.server.cluster;

import dev.dedupe.server.copy.ByteRate;
import dev.dedupe.server.copy.CopyProgress;
import dev.dedupe.server.copy.CopyProgressJson;
import dev.dedupe.server.copy.Throttle;
import dev.dedupe.server.moves.MoveAdmin;
import dev.dedupe.server.moves.MoveIds;
import dev.dedupe.server.moves.MoveJob;
import dev.dedupe.server.moves.MoveJobJson;
import dev.dedupe.server.moves.MoveKind;
import dev.dedupe.server.moves.MoveRefusedException;
import dev.dedupe.server.moves.MoveValidation;
import dev.dedupe.server.replication.ShardState;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;

/**
 * Move jobs as any node's admin API sees them: a request is checked against the cluster as
 * read now ({@link MoveValidation}, the rule the controller checks again when it starts the
 * job, and its target check, which only an admin's request needs) and created as a job znode; a cancel sets the job's flag at the version read, so that
 * it never crosses a step of the controller (which writes at the version it read, too).
 * Neither is fenced by the controller epoch: they are requests, and only the controller acts.
 */
final class ZkMoveAdmin implements MoveAdmin {

  private final Supplier<CuratorFramework> zk;
  private final ClusterPaths paths;
  private final int minInsync;
  private final InstantSource clock;

  ZkMoveAdmin(Supplier<CuratorFramework> zk, ClusterPaths paths, int minInsync,
      InstantSource clock) {
    this.zk = zk;
    this.paths = paths;
    this.minInsync = minInsync;
    this.clock = clock;
  }

  @Override
  public MoveJob requestMove(int shard, String from, String to, String planId) {
    return request(MoveJob.requested(MoveKind.MOVE, shard, from, to, planId, clock.millis()));
  }

  @Override
  public MoveJob requestLeaderTransfer(int shard, String to) {
    return request(MoveJob.requested(MoveKind.TRANSFER_LEADER, shard, "", to, "",
        clock.millis()));
  }

  private MoveJob request(MoveJob asked) {
    MoveJob job = asked;
    CuratorFramework client = client();
    try {
      ShardStates states = ClusterState.readShardStates(client, paths).orElseThrow(
          () -> MoveRefusedException.precondition("the cluster has not formed yet: no shard"
              + " has replicas to move"));
      if (job.shard() < 0 || job.shard() >= states.shardCount()) {
        throw MoveRefusedException.invalid(MoveValidation.SHARD, "shard must be 0 to "
            + (states.shardCount() - 1) + ", was " + job.shard());
      }
      ShardState shard = states.state(job.shard());
      if (job.kind() == MoveKind.TRANSFER_LEADER) {
        job = MoveJob.requested(job.kind(), job.shard(), shard.leader(), job.to(), job.planId(),
            job.createdMillis());
      }
      Optional<MoveRefusedException> excluded = MoveValidation.checkTarget(job.to(),
          ClusterState.drainedNodes(client, paths),
          ClusterState.decommissionedNodes(client, paths));
      if (excluded.isPresent()) {
        throw excluded.get();
      }
      Map<String, NodeRegistration> live = ClusterState.liveRegistrations(client, paths);
      List<MoveJob> running = MoveJobs.readAll(client, paths).stream()
          .map(MoveJobs.Versioned::job).filter(MoveJob::running).toList();
      Optional<MoveRefusedException> refused = MoveValidation.check(job, shard, live.keySet(),
          ClusterState.liveStores(live, job.shard()), minInsync, running);
      if (refused.isPresent()) {
        throw refused.get();
      }
      return MoveJobs.create(client, paths, job);
    } catch (MoveRefusedException e) {
      throw e;
    } catch (Exception e) {
      throw MoveRefusedException.unavailable("cannot create the job " + job.kind() + " of shard "
          + job.shard() + " in ZooKeeper: " + e.getMessage(), e);
    }
  }

  @Override
  public List<MoveJob> list() {
    try {
      return MoveJobs.readAll(client(), paths).stream().map(MoveJobs.Versioned::job).toList();
    } catch (MoveRefusedException e) {
      throw e;
    } catch (Exception e) {
      throw MoveRefusedException.unavailable("cannot read the move jobs from ZooKeeper: "
          + e.getMessage(), e);
    }
  }

  @Override
  public MoveJob cancel(String id) {
    if (!MoveIds.valid(id)) {
      throw MoveRefusedException.invalid("move_id", "move_id must look like m-000012, was '"
          + id + "'");
    }
    CuratorFramework client = client();
    try {
      while (true) {
        MoveJobs.Versioned read = MoveJobs.read(client, paths, id).orElseThrow(
            () -> new MoveRefusedException(MoveRefusedException.Reason.NOT_FOUND, "move_id",
                "no move " + id + " (finished moves are kept for the last "
                    + MoveDriver.FINISHED_KEPT + " only)"));
        MoveJob job = read.job();
        if (!job.running()) {
          throw MoveRefusedException.precondition(id + " has already finished ("
              + job.state() + "); nothing to cancel");
        }
        if (!job.phase().cancellable()) {
          throw MoveRefusedException.precondition(id + " is already done: its source replica"
              + " is being removed (phase " + job.phase() + "). To undo it, move the replica"
              + " back: 'bin/dedupe admin move --shard " + job.shard() + " --from " + job.to()
              + " --to " + job.from() + "'");
        }
        if (job.cancelRequested()) {
          return job;
        }
        MoveJob next = job.withCancelRequested(clock.millis());
        try {
          client.setData().withVersion(read.version())
              .forPath(paths.move(id), MoveJobJson.toJson(next));
          return next;
        } catch (KeeperException.BadVersionException changed) {
          // The controller moved it on meanwhile: decide again on what it wrote.
        }
      }
    } catch (MoveRefusedException e) {
      throw e;
    } catch (Exception e) {
      throw MoveRefusedException.unavailable("cannot cancel " + id + " in ZooKeeper: "
          + e.getMessage(), e);
    }
  }

  @Override
  public Optional<Throttle> throttle() {
    try {
      return ZkThrottle.read(client(), paths).map(ZkThrottle.Versioned::throttle);
    } catch (MoveRefusedException e) {
      throw e;
    } catch (Exception e) {
      throw MoveRefusedException.unavailable("cannot read the copy throttle from ZooKeeper: "
          + e.getMessage(), e);
    }
  }

  @Override
  public Throttle setThrottle(long bytesPerSecond) {
    if (!ByteRate.settable(bytesPerSecond)) {
      throw MoveRefusedException.invalid(THROTTLE_RATE, "bytes_per_second must be 0 (no"
          + " throttle) or " + ByteRate.MIN_BYTES_PER_SECOND + " to "
          + ByteRate.MAX_BYTES_PER_SECOND + " (" + ByteRate.format(ByteRate.MIN_BYTES_PER_SECOND)
          + " to " + ByteRate.format(ByteRate.MAX_BYTES_PER_SECOND) + "), was " + bytesPerSecond);
    }
    Throttle t = new Throttle(bytesPerSecond, clock.millis());
    try {
      ZkThrottle.write(client(), paths, t);
      return t;
    } catch (MoveRefusedException e) {
      throw e;
    } catch (Exception e) {
      throw MoveRefusedException.unavailable("cannot write the copy throttle to ZooKeeper: "
          + e.getMessage(), e);
    }
  }

  /** The request field a throttle's rate comes in, as the proto names it. */
  static final String THROTTLE_RATE = "bytes_per_second";

  @Override
  public boolean clearThrottle() {
    try {
      return ZkThrottle.delete(client(), paths);
    } catch (MoveRefusedException e) {
      throw e;
    } catch (Exception e) {
      throw MoveRefusedException.unavailable("cannot clear the copy throttle in ZooKeeper: "
          + e.getMessage(), e);
    }
  }

  @Override
  public List<CopyProgress> copies() {
    CuratorFramework client = client();
    try {
      List<String> children;
      try {
        children = client.getChildren().forPath(paths.copies());
      } catch (KeeperException.NoNodeException none) {
        return List.of();
      }
      List<CopyProgress> out = new java.util.ArrayList<>();
      for (String child : children) {
        try {
          out.add(CopyProgressJson.fromJson(
              client.getData().forPath(paths.copies() + "/" + child)));
        } catch (KeeperException.NoNodeException gone) {
          // the copy ended between the listing and the read
        } catch (IllegalArgumentException unreadable) {
          // a newer node's format we cannot read: show the move without its progress
        }
      }
      return out;
    } catch (Exception e) {
      throw MoveRefusedException.unavailable("cannot read the copies from ZooKeeper: "
          + e.getMessage(), e);
    }
  }

  private CuratorFramework client() {
    CuratorFramework client = zk.get();
    if (client == null) {
      throw MoveRefusedException.unavailable("this node has not joined its cluster yet; try"
          + " again", null);
    }
    return client;
  }
}
