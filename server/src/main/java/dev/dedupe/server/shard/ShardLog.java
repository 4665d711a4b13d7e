package dev.dedupe.server.shard;

import dev.dedupe.server.storage.LogEntry;
import dev.dedupe.server.storage.ShardStore;
import java.util.function.Consumer;

/**
 * A shard replica's log as its writer sees it: whether the replica may decide rounds now, and
 * what happens to each round's entry until the round's replies may go. The replication runtime
 * implements it, one per shard replica; a standalone node's is the same leader with no
 * followers, so a replication factor of 1 takes the same path as 3.
 */
public interface ShardLog {

  /** The writer opened its store, or a snapshot replaced it. Writer thread. */
  void opened(ShardStore store);

  /** The epoch at which this replica leads now, or -1 if it does not lead. Writer thread. */
  long leaderEpoch();

  /**
   * Whether a round that writes nothing must still append an (empty) entry, so that its answers
   * wait for a commit: true while the leader cannot confirm its leadership through ZooKeeper
   * (an outage, or its session lease ran out). A commit needs every in-sync follower's
   * acknowledgement at this leader's epoch, and a newer leader is always one of them and
   * refuses, so a deposed leader's reads (a Check, a DUPLICATE) fail instead of going stale.
   * Writer thread.
   */
  boolean readsNeedCommit();

  /** The round's entry is durable in the local store. Writer thread. */
  void appended(LogEntry entry);

  /**
   * Runs {@code replies} once every entry up to {@code seq} is committed, or {@code failed}
   * when that cannot be known in time (the replication timeout, or leadership lost); exactly
   * one of them runs, once, on any thread.
   */
  void whenCommitted(long seq, Runnable replies, Consumer<RuntimeException> failed);
}
