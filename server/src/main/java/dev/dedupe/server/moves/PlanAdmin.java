package dev.dedupe.server.moves;

import java.util.List;

/**
 * What the admin API asks of the cluster about plans: drains, decommissions and rebalances are
 * planned at once against the cluster as read now (a refusal creates nothing) and written as a
 * plan with its jobs, which the controller runs a few at a time.
 */
public interface PlanAdmin {

  /** A plan with its jobs, or a dry run's computed steps and counts. */
  record Planned(Plan plan, List<MoveJob> jobs, RebalancePlanner.Result computed) {}

  /**
   * Marks {@code node} drained and creates the plan that empties it.
   *
   * @throws MoveRefusedException if the node is unknown, a drain of it runs already, or a
   *     replica of it has nowhere to go
   */
  Planned drain(String node, int maxConcurrent);

  /**
   * Removes {@code node}'s drain mark and cancels its running drain plan; its replicas do not
   * come back by themselves.
   *
   * @return the plan cancelled, if one ran
   */
  java.util.Optional<Plan> undrain(String node);

  /** A drain that records the node as decommissioned once it holds nothing. */
  Planned decommission(String node, int maxConcurrent);

  /**
   * Plans a rebalance; with {@code dryRun} creates nothing.
   *
   * @throws MoveRefusedException if a rebalance or a drain runs already
   */
  Planned rebalance(boolean dryRun, int maxConcurrent);

  /** Every plan kept, running and the last 100 finished, oldest first. */
  List<Plan> list();

  /**
   * Cancels plan {@code id}: no pending job of it starts, running ones are rolled back.
   *
   * @throws MoveRefusedException if there is no such plan or it has finished
   */
  Plan cancel(String id);
}
