package dev.dedupe.server.rpc;

import dev.dedupe.admin.v1.Move;
import dev.dedupe.admin.v1.NodeBalance;
import dev.dedupe.server.moves.MoveKind;
import dev.dedupe.server.moves.Plan;
import dev.dedupe.server.moves.PlannedStep;
import dev.dedupe.server.moves.RebalancePlanner;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/** Plans as the admin API shows them. */
final class PlanProtos {

  private PlanProtos() {}

  static dev.dedupe.admin.v1.Plan toProto(Plan plan) {
    return dev.dedupe.admin.v1.Plan.newBuilder()
        .setPlanId(plan.id())
        .setKind(dev.dedupe.admin.v1.PlanKind.valueOf("PLAN_KIND_" + plan.kind().name()))
        .setNodeId(plan.node())
        .setMaxConcurrent(plan.maxConcurrent())
        .setState(dev.dedupe.admin.v1.PlanState.valueOf("PLAN_STATE_" + plan.state().name()))
        .setCancelRequested(plan.cancelRequested())
        .setCreateTime(AdminGrpcService.timestamp(plan.createdMillis()))
        .setUpdateTime(AdminGrpcService.timestamp(plan.updatedMillis()))
        .setJobsTotal(plan.jobsTotal())
        .setJobsDone(plan.jobsDone())
        .setJobsFailed(plan.jobsFailed())
        .setJobsCancelled(plan.jobsCancelled())
        .setNote(plan.note())
        .build();
  }

  /** A dry run's step: a job that was not created (no id, no phase). */
  static Move toProto(PlannedStep step) {
    return Move.newBuilder()
        .setKind(step.kind() == MoveKind.MOVE
            ? dev.dedupe.admin.v1.MoveKind.MOVE_KIND_MOVE_REPLICA
            : dev.dedupe.admin.v1.MoveKind.MOVE_KIND_TRANSFER_LEADER)
        .setShard(step.shard())
        .setFromNode(step.from())
        .setToNode(step.to())
        .setBytesCopied(-1)
        .setBytesTotal(-1)
        .build();
  }

  static List<NodeBalance> balance(RebalancePlanner.Result computed) {
    List<NodeBalance> out = new ArrayList<>();
    if (computed == null) {
      return out;
    }
    TreeSet<String> nodes = new TreeSet<>(computed.before().keySet());
    nodes.addAll(computed.after().keySet());
    RebalancePlanner.Counts none = new RebalancePlanner.Counts(0, 0);
    for (String n : nodes) {
      RebalancePlanner.Counts b = computed.before().getOrDefault(n, none);
      RebalancePlanner.Counts a = computed.after().getOrDefault(n, none);
      out.add(NodeBalance.newBuilder().setNodeId(n).setReplicasBefore(b.replicas())
          .setReplicasAfter(a.replicas()).setLeadersBefore(b.leaders())
          .setLeadersAfter(a.leaders()).build());
    }
    return out;
  }
}
