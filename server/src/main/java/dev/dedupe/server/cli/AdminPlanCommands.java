package dev.dedupe.server.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.dedupe.admin.v1.CancelPlanRequest;
import dev.dedupe.admin.v1.DecommissionRequest;
import dev.dedupe.admin.v1.DecommissionResponse;
import dev.dedupe.admin.v1.DrainRequest;
import dev.dedupe.admin.v1.DrainResponse;
import dev.dedupe.admin.v1.ListMovesRequest;
import dev.dedupe.admin.v1.ListMovesResponse;
import dev.dedupe.admin.v1.ListPlansRequest;
import dev.dedupe.admin.v1.ListPlansResponse;
import dev.dedupe.admin.v1.MoveState;
import dev.dedupe.admin.v1.Plan;
import dev.dedupe.admin.v1.PlanState;
import dev.dedupe.admin.v1.RebalanceRequest;
import dev.dedupe.admin.v1.RebalanceResponse;
import dev.dedupe.admin.v1.UndrainRequest;
import dev.dedupe.admin.v1.UndrainResponse;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code bin/dedupe admin drain | undrain | decommission | rebalance | plans | cancel-plan}:
 * plans, through any node's AdminService ({@code --target}), as {@link AdminMoveCommands} does
 * for single jobs. The node plans at once and refuses what cannot be done; the controller runs
 * the plan; these commands only ask and show.
 */
final class AdminPlanCommands {

  private AdminPlanCommands() {}

  /** {@code --max-concurrent}, shared by the commands that create a plan. */
  static final class Concurrency {
    @Option(names = "--max-concurrent", paramLabel = "N",
        description = "How many of the plan's jobs may run at once, 1 to 64 (default: 2).")
    Integer maxConcurrent;
  }

  @Command(name = "drain", mixinStandardHelpOptions = true,
      description = {"Move every leadership, then every replica, off a node, and keep it",
          "drained (no new replica or leadership) until 'admin undrain'."})
  static final class Drain implements Callable<Integer> {
    @Mixin CallOptions call;
    @Mixin Concurrency concurrency;

    @Parameters(paramLabel = "NODE", description = "The node id to drain.")
    String node;

    @Override
    public Integer call() {
      try (AdminCalls admin = new AdminCalls(call.target())) {
        DrainRequest.Builder request = DrainRequest.newBuilder().setNodeId(node);
        if (concurrency.maxConcurrent != null) {
          request.setMaxConcurrent(concurrency.maxConcurrent);
        }
        DrainResponse response = admin.call(stub -> stub.drain(request.build()));
        PrintWriter out = call.spec.commandLine().getOut();
        if (call.output == CallOptions.Output.json) {
          out.println(json(response));
        } else {
          out.println(started(response.getPlan(), "draining " + node + ": " + node
              + " is drained and gets no new replica or leadership"));
          out.print(PlansTable.steps(response.getMovesList()));
        }
        out.flush();
        return 0;
      }
    }
  }

  @Command(name = "undrain", mixinStandardHelpOptions = true,
      description = {"Let a drained node take replicas and leaderships again, and cancel its",
          "running drain. Its replicas do not come back by themselves: run 'admin rebalance'."})
  static final class Undrain implements Callable<Integer> {
    @Mixin CallOptions call;

    @Parameters(paramLabel = "NODE", description = "The node id to undrain.")
    String node;

    @Override
    public Integer call() {
      try (AdminCalls admin = new AdminCalls(call.target())) {
        UndrainResponse response = admin.call(stub -> stub.undrain(
            UndrainRequest.newBuilder().setNodeId(node).build()));
        PrintWriter out = call.spec.commandLine().getOut();
        if (call.output == CallOptions.Output.json) {
          out.println(json(response));
        } else {
          out.println(node + " is no longer drained"
              + (response.hasCancelledPlan() ? "; its plan " + response.getCancelledPlan()
                  .getPlanId() + " is cancelled (jobs done stay done)" : "")
              + ". Replicas do not move back by themselves: run 'bin/dedupe admin rebalance"
              + " --dry-run' to see what a rebalance would give it");
        }
        out.flush();
        return 0;
      }
    }
  }

  @Command(name = "decommission", mixinStandardHelpOptions = true,
      description = {"Drain a node, then remove it from the cluster for good: once it holds",
          "no replica, a node with its id may not join again."})
  static final class Decommission implements Callable<Integer> {
    @Mixin CallOptions call;
    @Mixin Concurrency concurrency;

    @Parameters(paramLabel = "NODE", description = "The node id to decommission.")
    String node;

    @Override
    public Integer call() {
      try (AdminCalls admin = new AdminCalls(call.target())) {
        DecommissionRequest.Builder request = DecommissionRequest.newBuilder().setNodeId(node);
        if (concurrency.maxConcurrent != null) {
          request.setMaxConcurrent(concurrency.maxConcurrent);
        }
        DecommissionResponse response = admin.call(stub -> stub.decommission(request.build()));
        PrintWriter out = call.spec.commandLine().getOut();
        if (call.output == CallOptions.Output.json) {
          out.println(json(response));
        } else {
          out.println(started(response.getPlan(), "decommissioning " + node + ": once it holds"
              + " no replica it is removed for good; stop its process then"));
          out.print(PlansTable.steps(response.getMovesList()));
        }
        out.flush();
        return 0;
      }
    }
  }

  @Command(name = "rebalance", mixinStandardHelpOptions = true,
      description = {"Even out replicas, then leaders, over the live, non-drained nodes.",
          "With --dry-run, prints the plan and changes nothing."})
  static final class Rebalance implements Callable<Integer> {
    @Mixin CallOptions call;
    @Mixin Concurrency concurrency;

    @Option(names = "--dry-run", description = "Print the plan; change nothing.")
    boolean dryRun;

    @Override
    public Integer call() {
      try (AdminCalls admin = new AdminCalls(call.target())) {
        RebalanceRequest.Builder request = RebalanceRequest.newBuilder().setDryRun(dryRun);
        if (concurrency.maxConcurrent != null) {
          request.setMaxConcurrent(concurrency.maxConcurrent);
        }
        RebalanceResponse response = admin.call(stub -> stub.rebalance(request.build()));
        PrintWriter out = call.spec.commandLine().getOut();
        if (call.output == CallOptions.Output.json) {
          out.println(json(response));
        } else {
          if (response.hasPlan()) {
            out.println(started(response.getPlan(), "rebalancing"));
          } else if (response.getMovesCount() == 0) {
            out.println("the cluster is balanced already: nothing to move");
          } else {
            out.println("dry run: nothing was changed; without --dry-run this plan is made:");
          }
          out.print(PlansTable.steps(response.getMovesList()));
          out.println();
          out.print(PlansTable.balance(response.getNodesList()));
        }
        out.flush();
        return 0;
      }
    }
  }

  @Command(name = "plans", mixinStandardHelpOptions = true,
      description = {"The plans: running ones and the last 100 finished, oldest first.",
          "'admin moves' shows their jobs. With --watch, redraws every second, with the",
          "jobs not finished below, until no plan runs."})
  static final class Plans implements Callable<Integer> {
    @Mixin CallOptions call;

    @Option(names = "--watch",
        description = "Redraw the plans and their unfinished jobs until no plan runs, then exit.")
    boolean watch;

    @Override
    public Integer call() throws InterruptedException {
      PrintWriter out = call.spec.commandLine().getOut();
      try (AdminCalls admin = new AdminCalls(call.target())) {
        while (true) {
          ListPlansResponse plans = admin.call(stub -> stub.listPlans(
              ListPlansRequest.getDefaultInstance()));
          boolean running = plans.getPlansList().stream()
              .anyMatch(p -> p.getState() == PlanState.PLAN_STATE_RUNNING);
          if (call.output == CallOptions.Output.json) {
            out.println(json(plans));
          } else {
            if (watch) {
              out.print("\033[H\033[2J"); // home and clear: a redraw, not a scroll
            }
            out.print(PlansTable.plans(plans.getPlansList(), Instant.now()));
            if (watch) {
              ListMovesResponse moves = admin.call(stub -> stub.listMoves(
                  ListMovesRequest.getDefaultInstance()));
              out.println();
              out.print(MovesTable.render(moves.getMovesList().stream()
                  .filter(m -> m.getState() == MoveState.MOVE_STATE_RUNNING).toList(),
                  moves.getThrottle(), Instant.now()));
            }
          }
          out.flush();
          if (!watch || !running) {
            return 0;
          }
          Thread.sleep(1_000);
        }
      }
    }
  }

  @Command(name = "cancel-plan", mixinStandardHelpOptions = true,
      description = {"Cancel a running plan: its pending jobs never start, its running ones",
          "are rolled back. Jobs done stay done."})
  static final class CancelPlan implements Callable<Integer> {
    @Mixin CallOptions call;

    @Parameters(paramLabel = "PLAN", description = "The plan's id, as 'admin plans' shows it.")
    String id;

    @Override
    public Integer call() {
      try (AdminCalls admin = new AdminCalls(call.target())) {
        Plan plan = admin.call(stub -> stub.cancelPlan(CancelPlanRequest.newBuilder()
            .setPlanId(id).build())).getPlan();
        PrintWriter out = call.spec.commandLine().getOut();
        out.println(call.output == CallOptions.Output.json ? json(plan)
            : plan.getPlanId() + ": cancel requested; the controller rolls its running jobs"
                + " back ('bin/dedupe admin plans' shows it end CANCELLED)");
        out.flush();
        return 0;
      }
    }
  }

  private static String started(Plan plan, String what) {
    return plan.getPlanId() + ": " + what + "; " + plan.getJobsTotal() + " jobs, at most "
        + plan.getMaxConcurrent() + " at once (follow it with 'bin/dedupe admin plans' and"
        + " 'admin moves --watch', stop it with 'bin/dedupe admin cancel-plan "
        + plan.getPlanId() + "')";
  }

  private static String json(MessageOrBuilder message) {
    try {
      return JsonFormat.printer().omittingInsignificantWhitespace().print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new Failures.CommandFailure("cannot print the answer as JSON: " + e.getMessage(), e);
    }
  }
}
