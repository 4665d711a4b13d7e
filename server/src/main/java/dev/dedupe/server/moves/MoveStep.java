package dev.dedupe.server.moves;

import dev.dedupe.server.replication.ShardState;
import java.util.Optional;

/** What the controller does next for a job ({@link MoveRule}). */
public sealed interface MoveStep {

  /**
   * Nothing to write now; a later change of the shard or of the nodes moves it on.
   *
   * @param reason what it waits for
   * @param needsAttention whether an admin should know (the job's last error shows it): a
   *     target that is down, a member out of sync; not the normal wait for a copy
   */
  record Wait(String reason, boolean needsAttention) implements MoveStep {}

  /**
   * One fenced ZooKeeper transaction: the shard's next state (if it changes) and the job's,
   * each at the version read, so that a job's phase and the shard never disagree.
   */
  record Write(Optional<ShardState> shard, MoveJob job) implements MoveStep {}

  /** Ask the controller to move the shard's leadership to {@code to}, then look again. */
  record TransferLeader(String to) implements MoveStep {}
}
