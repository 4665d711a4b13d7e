package dev.dedupe.server.replication.sim;

import dev.dedupe.server.replication.FollowerGate;
import dev.dedupe.server.replication.LogHistory;
import dev.dedupe.server.storage.LogPosition;
import java.util.List;
import java.util.Map;

/** The messages of the simulated network. */
public sealed interface Msg {

  /** Entries of {@code epoch} that follow {@code previous}; none is a probe (and a heartbeat). */
  record Append(int shard, long epoch, String leader, LogPosition previous, List<Entry> entries)
      implements Msg {}

  /** A copy of the leader's shard that replaces a follower at {@code replaces}, and only there. */
  record Snapshot(int shard, long epoch, String leader, LogPosition replaces,
      Map<String, String> records, LogHistory history) implements Msg {}

  record AppendReply(int shard, long epoch, String follower, String store,
      FollowerGate.Outcome outcome, LogPosition position) implements Msg {}

  /** The controller asks a shard's leader to hand over to {@code to} (LeaderHandover). */
  record PrepareHandover(int shard, long epoch, String to, String controller, long ctrlEpoch,
      long leaseMs) implements Msg {}

  /** The leader is ready: {@code to} has its whole log; write the new leader at {@code version}. */
  record HandoverReady(int shard, long epoch, String leader, String to, LogPosition end,
      int version, long ctrlEpoch) implements Msg {}

  record Request(String client, long requestId, int shard, String id, String token) implements Msg {}

  enum Result { NEW, DUPLICATE, UNAVAILABLE }

  record Reply(long requestId, Result result) implements Msg {}
}
