package dev.dedupe.server.rpc;

import com.google.protobuf.Timestamp;
import dev.dedupe.admin.v1.AdminServiceGrpc;
import dev.dedupe.admin.v1.CancelMoveRequest;
import dev.dedupe.admin.v1.CancelMoveResponse;
import dev.dedupe.admin.v1.ListMovesRequest;
import dev.dedupe.admin.v1.ListMovesResponse;
import dev.dedupe.admin.v1.Move;
import dev.dedupe.admin.v1.MoveReplicaRequest;
import dev.dedupe.admin.v1.MoveReplicaResponse;
import dev.dedupe.admin.v1.TransferLeaderRequest;
import dev.dedupe.admin.v1.TransferLeaderResponse;
import dev.dedupe.admin.v1.GetThrottleRequest;
import dev.dedupe.admin.v1.GetThrottleResponse;
import dev.dedupe.admin.v1.SetThrottleRequest;
import dev.dedupe.admin.v1.SetThrottleResponse;
import dev.dedupe.server.copy.CopyProgress;
import dev.dedupe.server.copy.Throttle;
import dev.dedupe.admin.v1.CancelPlanRequest;
import dev.dedupe.admin.v1.CancelPlanResponse;
import dev.dedupe.admin.v1.DecommissionRequest;
import dev.dedupe.admin.v1.DecommissionResponse;
import dev.dedupe.admin.v1.DrainRequest;
import dev.dedupe.admin.v1.DrainResponse;
import dev.dedupe.admin.v1.ListPlansRequest;
import dev.dedupe.admin.v1.ListPlansResponse;
import dev.dedupe.admin.v1.RebalanceRequest;
import dev.dedupe.admin.v1.RebalanceResponse;
import dev.dedupe.admin.v1.UndrainRequest;
import dev.dedupe.admin.v1.UndrainResponse;
import dev.dedupe.server.moves.MoveAdmin;
import dev.dedupe.server.moves.Plan;
import dev.dedupe.server.moves.PlanAdmin;
import dev.dedupe.server.moves.MoveJob;
import dev.dedupe.server.moves.MoveKind;
import dev.dedupe.server.moves.MoveRefusedException;
import dev.dedupe.server.moves.MoveValidation;
import io.grpc.stub.StreamObserver;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * {@code dedupe.admin.v1.AdminService}: a thin adapter over {@link MoveAdmin}. Each call reads
 * and writes ZooKeeper, which may block, so it runs on {@code work} (virtual threads), never on
 * the transport thread that the API's direct executor calls it on. Failures are mapped in
 * {@link StatusMapping}, the one map.
 */
public final class AdminGrpcService extends AdminServiceGrpc.AdminServiceImplBase {

  private final Supplier<Optional<MoveAdmin>> admin;
  private final Supplier<Optional<PlanAdmin>> plans;
  private final Executor work;

  /**
   * @param admin the cluster's jobs, or empty on a standalone node
   * @param work where calls run
   */
  public AdminGrpcService(Supplier<Optional<MoveAdmin>> admin, Executor work) {
    this(admin, Optional::empty, work);
  }

  /**
   * @param admin the cluster's jobs, or empty on a standalone node
   * @param plans the cluster's plans, or empty on a standalone node
   * @param work where calls run
   */
  public AdminGrpcService(Supplier<Optional<MoveAdmin>> admin,
      Supplier<Optional<PlanAdmin>> plans, Executor work) {
    this.admin = admin;
    this.plans = plans;
    this.work = work;
  }

  @Override
  public void moveReplica(MoveReplicaRequest request,
      StreamObserver<MoveReplicaResponse> responses) {
    answer(responses, () -> {
      int shard = shardOf(request.hasShard(), request.getShard());
      MoveJob job = admin().requestMove(shard, request.getFromNode().strip(),
          request.getToNode().strip(), "");
      return MoveReplicaResponse.newBuilder().setMove(toProto(job)).build();
    });
  }

  @Override
  public void transferLeader(TransferLeaderRequest request,
      StreamObserver<TransferLeaderResponse> responses) {
    answer(responses, () -> {
      int shard = shardOf(request.hasShard(), request.getShard());
      MoveJob job = admin().requestLeaderTransfer(shard, request.getToNode().strip());
      return TransferLeaderResponse.newBuilder().setMove(toProto(job)).build();
    });
  }

  @Override
  public void listMoves(ListMovesRequest request, StreamObserver<ListMovesResponse> responses) {
    answer(responses, () -> {
      MoveAdmin moves = admin();
      ListMovesResponse.Builder out = ListMovesResponse.newBuilder();
      List<MoveJob> jobs = moves.list();
      Map<String, CopyProgress> copies = jobs.stream().anyMatch(MoveAdmin::copying)
          ? byTarget(moves.copies()) : Map.of();
      for (MoveJob job : jobs) {
        Move.Builder m = toProto(job).toBuilder();
        CopyProgress copy = MoveAdmin.copying(job)
            ? copies.get(job.shard() + "/" + job.to()) : null;
        if (copy != null) {
          withCopy(m, copy);
        }
        out.addMoves(m);
      }
      out.setThrottle(throttleProto(moves.throttle()));
      return out.build();
    });
  }

  @Override
  public void setThrottle(SetThrottleRequest request,
      StreamObserver<SetThrottleResponse> responses) {
    answer(responses, () -> {
      if (request.getBytesPerSecond() == 0) {
        boolean was = admin().clearThrottle();
        return SetThrottleResponse.newBuilder().setThrottle(throttleProto(Optional.empty()))
            .setWasSet(was).build();
      }
      Throttle set = admin().setThrottle(request.getBytesPerSecond());
      return SetThrottleResponse.newBuilder().setThrottle(throttleProto(Optional.of(set)))
          .build();
    });
  }

  @Override
  public void getThrottle(GetThrottleRequest request,
      StreamObserver<GetThrottleResponse> responses) {
    answer(responses, () -> GetThrottleResponse.newBuilder()
        .setThrottle(throttleProto(admin().throttle())).build());
  }

  private static Map<String, CopyProgress> byTarget(List<CopyProgress> copies) {
    Map<String, CopyProgress> out = new HashMap<>();
    for (CopyProgress c : copies) {
      // Two leaders may publish for one pair across a leadership change: the newer counts.
      out.merge(c.shard() + "/" + c.follower(), c,
          (a, b) -> a.updatedMillis() >= b.updatedMillis() ? a : b);
    }
    return out;
  }

  /** A move's copy figures, from what the shard's leader published. */
  static void withCopy(Move.Builder m, CopyProgress copy) {
    m.setBytesCopied(copy.bytesCopied())
        .setBytesTotal(copy.bytesTotal())
        .setBytesTotalEstimated(copy.totalEstimated())
        .setCopyRateBytesPerSecond(copy.bytesPerSecond())
        .setLagEntries(copy.lagEntries())
        .setCopyUpdateTime(timestamp(copy.updatedMillis()));
  }

  private static dev.dedupe.admin.v1.Throttle throttleProto(Optional<Throttle> t) {
    dev.dedupe.admin.v1.Throttle.Builder out = dev.dedupe.admin.v1.Throttle.newBuilder();
    t.ifPresent(set -> out.setBytesPerSecond(set.bytesPerSecond())
        .setSetTime(timestamp(set.setMillis())));
    return out.build();
  }

  @Override
  public void cancelMove(CancelMoveRequest request, StreamObserver<CancelMoveResponse> responses) {
    answer(responses, () -> CancelMoveResponse.newBuilder()
        .setMove(toProto(admin().cancel(request.getMoveId().strip()))).build());
  }

  @Override
  public void drain(DrainRequest request, StreamObserver<DrainResponse> responses) {
    answer(responses, () -> {
      PlanAdmin.Planned planned = plans().drain(request.getNodeId().strip(),
          concurrency(request.hasMaxConcurrent(), request.getMaxConcurrent()));
      return DrainResponse.newBuilder().setPlan(PlanProtos.toProto(planned.plan()))
          .addAllMoves(planned.jobs().stream().map(AdminGrpcService::toProto).toList()).build();
    });
  }

  @Override
  public void undrain(UndrainRequest request, StreamObserver<UndrainResponse> responses) {
    answer(responses, () -> {
      UndrainResponse.Builder out = UndrainResponse.newBuilder();
      plans().undrain(request.getNodeId().strip())
          .ifPresent(p -> out.setCancelledPlan(PlanProtos.toProto(p)));
      return out.build();
    });
  }

  @Override
  public void decommission(DecommissionRequest request,
      StreamObserver<DecommissionResponse> responses) {
    answer(responses, () -> {
      PlanAdmin.Planned planned = plans().decommission(request.getNodeId().strip(),
          concurrency(request.hasMaxConcurrent(), request.getMaxConcurrent()));
      return DecommissionResponse.newBuilder().setPlan(PlanProtos.toProto(planned.plan()))
          .addAllMoves(planned.jobs().stream().map(AdminGrpcService::toProto).toList()).build();
    });
  }

  @Override
  public void rebalance(RebalanceRequest request, StreamObserver<RebalanceResponse> responses) {
    answer(responses, () -> {
      PlanAdmin.Planned planned = plans().rebalance(request.getDryRun(),
          concurrency(request.hasMaxConcurrent(), request.getMaxConcurrent()));
      RebalanceResponse.Builder out = RebalanceResponse.newBuilder();
      if (planned.plan() != null) {
        out.setPlan(PlanProtos.toProto(planned.plan()));
        planned.jobs().forEach(j -> out.addMoves(toProto(j)));
      } else {
        planned.computed().steps().forEach(s -> out.addMoves(PlanProtos.toProto(s)));
      }
      out.addAllNodes(PlanProtos.balance(planned.computed()));
      return out.build();
    });
  }

  @Override
  public void listPlans(ListPlansRequest request, StreamObserver<ListPlansResponse> responses) {
    answer(responses, () -> ListPlansResponse.newBuilder().addAllPlans(
        plans().list().stream().map(PlanProtos::toProto).toList()).build());
  }

  @Override
  public void cancelPlan(CancelPlanRequest request, StreamObserver<CancelPlanResponse> responses) {
    answer(responses, () -> CancelPlanResponse.newBuilder()
        .setPlan(PlanProtos.toProto(plans().cancel(request.getPlanId().strip()))).build());
  }

  private PlanAdmin plans() {
    return plans.get().orElseThrow(() -> MoveRefusedException.precondition("this node runs"
        + " standalone (no cluster.zk): it has no replicas to drain or rebalance"));
  }

  /** {@code max_concurrent}: its default when absent; the plan admin checks its range. */
  private static int concurrency(boolean present, int value) {
    return present ? value : Plan.DEFAULT_CONCURRENT;
  }

  private MoveAdmin admin() {
    return admin.get().orElseThrow(() -> MoveRefusedException.precondition("this node runs"
        + " standalone (no cluster.zk): it has no replicas to move and no leaders to change"));
  }

  private static int shardOf(boolean present, int shard) {
    if (!present) {
      throw MoveRefusedException.invalid(MoveValidation.SHARD, "shard is required");
    }
    if (shard < 0) {
      throw MoveRefusedException.invalid(MoveValidation.SHARD,
          "shard must not be negative, was " + shard);
    }
    return shard;
  }

  private <T> void answer(StreamObserver<T> responses, Supplier<T> call) {
    work.execute(() -> {
      T response;
      try {
        response = call.get();
      } catch (Throwable t) {
        responses.onError(StatusMapping.toStatus(t));
        return;
      }
      responses.onNext(response);
      responses.onCompleted();
    });
  }

  /** A job as the API shows it. */
  static Move toProto(MoveJob job) {
    return Move.newBuilder()
        .setMoveId(job.id())
        .setKind(job.kind() == MoveKind.MOVE ? dev.dedupe.admin.v1.MoveKind.MOVE_KIND_MOVE_REPLICA
            : dev.dedupe.admin.v1.MoveKind.MOVE_KIND_TRANSFER_LEADER)
        .setShard(job.shard())
        .setFromNode(job.from())
        .setToNode(job.to())
        .setPhase(dev.dedupe.admin.v1.MovePhase.valueOf("MOVE_PHASE_" + job.phase().name()))
        .setState(dev.dedupe.admin.v1.MoveState.valueOf("MOVE_STATE_" + job.state().name()))
        .setCancelRequested(job.cancelRequested())
        .setCreateTime(timestamp(job.createdMillis()))
        .setUpdateTime(timestamp(job.updatedMillis()))
        .setBytesCopied(job.bytesCopied())
        .setBytesTotal(job.bytesTotal())
        .setLastError(job.lastError())
        .setPlanId(job.planId())
        .setLagEntries(-1)
        .build();
  }

  static Timestamp timestamp(long millis) {
    return Timestamp.newBuilder().setSeconds(Math.floorDiv(millis, 1000))
        .setNanos((int) Math.floorMod(millis, 1000) * 1_000_000).build();
  }
}
