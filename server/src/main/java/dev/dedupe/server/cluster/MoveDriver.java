package dev.dedupe.server.cluster;

import dev.dedupe.server.moves.MoveJob;
import dev.dedupe.server.moves.MoveJobJson;
import dev.dedupe.server.moves.MoveRule;
import dev.dedupe.server.moves.MoveStep;
import dev.dedupe.server.replication.ShardState;
import dev.dedupe.server.replication.VersionedShardState;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller's part of move jobs: on each pass, runs {@link MoveRule} for every running
 * job and writes what it decides, each write one transaction that checks the controller epoch
 * and names the versions read of the shard's znode and the job's (so a job's phase and its
 * shard change together, or not at all, and an admin's cancel and the controller's step never
 * overwrite each other). Leadership transfers run asynchronously and start a new pass when
 * they end. Keeps the newest {@link #FINISHED_KEPT} finished jobs and deletes older ones.
 *
 * <p>Threads: {@link #advance} runs on the controller's event thread only; the transfers'
 * completions only touch the concurrent set and map and ask for another pass.
 */
final class MoveDriver {

  private static final Logger log = LoggerFactory.getLogger(MoveDriver.class);

  /** Finished jobs kept for {@code admin moves}; older ones are deleted. */
  static final int FINISHED_KEPT = 100;

  private final CuratorFramework zk;
  private final ClusterPaths paths;
  private final String nodeId;
  private final int minInsync;
  private final InstantSource clock;
  private final BiFunction<Integer, String, CompletableFuture<ShardState>> transfer;
  /** Asks for another pass soon (on the event thread), after {@code delayMillis}. */
  private final java.util.function.LongConsumer again;
  /** Jobs whose leadership transfer is in flight: never two at once for one job. */
  private final Set<String> transferring = ConcurrentHashMap.newKeySet();
  /** Jobs running at the start of the last pass, for the metrics. */
  private volatile int runningCount;

  /** Jobs running at the start of the last pass (the metrics' view of moves running). */
  int runningCount() {
    return runningCount;
  }

  /** The failure of a job's last transfer, to record as its last error on the next pass. */
  private final Map<String, String> transferFailures = new ConcurrentHashMap<>();
  /** Which jobs may be stepped: the plans' gate (a plan starts its pending jobs a few at once). */
  private volatile java.util.function.Predicate<MoveJob> mayStep = job -> true;

  MoveDriver(CuratorFramework zk, ClusterPaths paths, String nodeId, int minInsync,
      InstantSource clock, BiFunction<Integer, String, CompletableFuture<ShardState>> transfer,
      java.util.function.LongConsumer again) {
    this.zk = zk;
    this.paths = paths;
    this.nodeId = nodeId;
    this.minInsync = minInsync;
    this.clock = clock;
    this.transfer = transfer;
    this.again = again;
  }

  /** Sets which jobs a pass may step ({@link PlanDriver#gate}); the others wait, still running. */
  void setGate(java.util.function.Predicate<MoveJob> gate) {
    this.mayStep = java.util.Objects.requireNonNull(gate, "gate");
  }

  /**
   * One pass over every job. Controller thread only.
   *
   * @return whether some job is still running
   * @throws NotControllerException if another controller took over since {@code myEpoch}
   */
  boolean advance(long myEpoch) throws Exception {
    List<MoveJobs.Versioned> jobs = MoveJobs.readAll(zk, paths);
    List<MoveJob> running = new ArrayList<>();
    jobs.stream().map(MoveJobs.Versioned::job).filter(MoveJob::running).forEach(running::add);
    runningCount = running.size();
    boolean stillRunning = false;
    if (!running.isEmpty()) {
      Map<String, NodeRegistration> live = ClusterState.liveRegistrations(zk, paths);
      for (MoveJobs.Versioned v : jobs) {
        if (v.job().running() && !mayStep.test(v.job())) {
          stillRunning = true; // a plan's pending job, waiting for its turn
        } else if (v.job().running()) {
          stillRunning |= step(myEpoch, v, running, live);
        }
      }
    }
    prune(myEpoch, jobs);
    ThrottleExpiry.check(zk, paths, myEpoch, nodeId,
        jobs.stream().map(MoveJobs.Versioned::job).toList());
    return stillRunning;
  }

  /** Decides and writes one job's next step; returns whether it still runs. */
  private boolean step(long myEpoch, MoveJobs.Versioned v, List<MoveJob> running,
      Map<String, NodeRegistration> live) throws Exception {
    MoveJob job = v.job();
    long now = clock.millis();
    Optional<VersionedShardState> read = ClusterState.readShard(zk, paths, job.shard());
    if (read.isEmpty()) {
      write(myEpoch, null, Optional.empty(), v, job.failed("shard " + job.shard()
          + " does not exist in this cluster (or it has not formed yet)", now));
      return false;
    }
    List<MoveJob> others = running.stream().filter(o -> !o.id().equals(job.id())).toList();
    MoveStep step = MoveRule.next(job, read.get().state(), live.keySet(),
        ClusterState.liveStores(live, job.shard()), minInsync, others, now);
    switch (step) {
      case MoveStep.Write w -> {
        if (write(myEpoch, read.get(), w.shard(), v, w.job())) {
          log.info("node {}: {}: {} {}{}", nodeId, job.describe(),
              w.job().running() ? "now" : "finished", w.job().running() ? w.job().phase()
                  : w.job().state(), w.job().lastError().isEmpty() ? ""
                  : " (" + w.job().lastError() + ")");
        } else {
          again.accept(100); // the shard or the job changed meanwhile: read and decide again
        }
        return w.job().running();
      }
      case MoveStep.Wait wait -> {
        if (wait.needsAttention() && !wait.reason().equals(job.lastError())) {
          write(myEpoch, read.get(), Optional.empty(), v, job.withError(wait.reason(), now));
          log.info("node {}: {} waits: {}", nodeId, job.describe(), wait.reason());
        } else if (!wait.needsAttention() && !job.lastError().isEmpty()) {
          // What needed attention is over (the target is back): say so by clearing it.
          write(myEpoch, read.get(), Optional.empty(), v, job.withError("", now));
        }
        return true;
      }
      case MoveStep.TransferLeader t -> {
        String failure = transferFailures.remove(job.id());
        if (failure != null && !failure.equals(job.lastError())) {
          write(myEpoch, read.get(), Optional.empty(), v, job.withError(failure, now));
        }
        if (transferring.add(job.id())) {
          log.info("node {}: {}: transferring shard {}'s leadership to {}", nodeId,
              job.describe(), job.shard(), t.to());
          transfer.apply(job.shard(), t.to()).whenComplete((state, error) -> {
            transferring.remove(job.id());
            if (error != null) {
              Throwable cause = error instanceof java.util.concurrent.CompletionException
                  && error.getCause() != null ? error.getCause() : error;
              transferFailures.put(job.id(), "leadership transfer to " + t.to() + " failed: "
                  + cause.getMessage());
              again.accept(1_000); // not at once: a transfer that keeps failing must not spin
            } else {
              again.accept(0);
            }
          });
        }
        return true;
      }
    }
  }

  /**
   * Writes the job (and the shard, if it changes) in one transaction with the epoch check.
   *
   * @return false if the shard or the job is no longer at the version read
   */
  private boolean write(long myEpoch, VersionedShardState shardRead, Optional<ShardState> shard,
      MoveJobs.Versioned jobRead, MoveJob next) throws Exception {
    String what = "a step of move " + next.id();
    if (myEpoch < 0) {
      throw new NotControllerException(myEpoch, what);
    }
    List<CuratorOp> ops = new ArrayList<>();
    ops.add(FencedTransaction.epochCheck(zk, paths, myEpoch));
    if (shard.isPresent()) {
      ops.add(zk.transactionOp().setData().withVersion(shardRead.version())
          .forPath(paths.shard(next.shard()), ShardStateJson.toJson(shard.get())));
    }
    ops.add(zk.transactionOp().setData().withVersion(jobRead.version())
        .forPath(paths.move(next.id()), MoveJobJson.toJson(next)));
    FencedTransaction.Failure failed = FencedTransaction.commit(zk, ops);
    if (failed == null) {
      return true;
    }
    if (failed.op() == 0) {
      throw new NotControllerException(myEpoch, what);
    }
    if (failed.code() == KeeperException.Code.BADVERSION
        || failed.code() == KeeperException.Code.NONODE) {
      return false;
    }
    throw new ClusterException(what + " failed: " + failed.code() + " on operation "
        + failed.op(), null);
  }

  /** Deletes the oldest finished jobs beyond {@link #FINISHED_KEPT}, fenced like every write. */
  private void prune(long myEpoch, List<MoveJobs.Versioned> jobs) throws Exception {
    List<MoveJobs.Versioned> finished =
        jobs.stream().filter(v -> !v.job().running()).toList();
    for (int i = 0; i < finished.size() - FINISHED_KEPT; i++) {
      MoveJobs.Versioned old = finished.get(i);
      FencedTransaction.Failure failed = FencedTransaction.commit(zk, List.of(
          FencedTransaction.epochCheck(zk, paths, myEpoch),
          zk.transactionOp().delete().withVersion(old.version())
              .forPath(paths.move(old.job().id()))));
      if (failed != null && failed.op() == 0) {
        throw new NotControllerException(myEpoch, "the deletion of finished move "
            + old.job().id());
      }
    }
  }
}
