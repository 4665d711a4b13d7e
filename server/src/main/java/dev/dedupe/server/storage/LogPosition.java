package dev.dedupe.server.storage;

/**
 * A shard replica's place in its shard's log: the epoch of the leader that made the last entry
 * it applied, and that entry's sequence number. Sequence numbers grow by one per entry across
 * epochs (seq s+1 follows s whatever its epoch), and one leader owns each epoch, so a position
 * names one entry of the shard's history.
 */
public record LogPosition(long epoch, long seq) implements Comparable<LogPosition> {

  /** The position of a store that never applied an entry. */
  public static final LogPosition EMPTY = new LogPosition(0, 0);

  @Override
  public int compareTo(LogPosition other) {
    int byEpoch = Long.compare(epoch, other.epoch);
    return byEpoch != 0 ? byEpoch : Long.compare(seq, other.seq);
  }

  @Override
  public String toString() {
    return "(epoch " + epoch + ", seq " + seq + ")";
  }
}
