package dev.dedupe.server.storage;

import java.util.List;

/**
 * One entry of a shard's log: every change a leader's round (or maintenance step) makes to the
 * shard, as final states, so that any replica that applies it in order ends exactly where the
 * leader did, whatever its own clock or earlier reads. Encoded by {@link LogEntryCodec}.
 *
 * @param epoch the leader epoch of the leader that made it
 * @param seq its place in the shard's log; seq s+1 follows s whatever their epochs
 * @param ops the changes, applied atomically; none for a new leader's first entry
 */
public record LogEntry(long epoch, long seq, List<Op> ops) {

  public LogEntry {
    ops = List.copyOf(ops);
  }

  public LogPosition position() {
    return new LogPosition(epoch, seq);
  }

  /** One change to a shard's data. */
  public sealed interface Op permits Put, Delete, EnsureBucket, DropBucket, PutMeta {}

  /** Puts {@code value} under {@code key} in a bucket (a record, or a counter's new total). */
  public record Put(long bucketStart, byte[] key, byte[] value) implements Op {}

  /** Deletes {@code key} from a bucket. */
  public record Delete(long bucketStart, byte[] key) implements Op {}

  /** Creates a bucket unless it exists (the leader decided the time it covers). */
  public record EnsureBucket(long bucketStart) implements Op {}

  /** Drops a bucket whole, with every record in it; nothing if it is gone already. */
  public record DropBucket(long bucketStart) implements Op {}

  /** Puts a value in the shard's metadata (see {@link ShardMetaKeys}). */
  public record PutMeta(byte[] key, byte[] value) implements Op {}

  /** The op that moves the shard's budget horizon to {@code millis} (see ShardStore). */
  public static Op budgetHorizon(long millis) {
    return new PutMeta(ShardMetaKeys.BUDGET_HORIZON, ShardMetaKeys.millis(millis));
  }
}
