package dev.dedupe.server.replication;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * A leader's most recent entries of one shard, encoded, kept in memory so that a follower a
 * little behind catches up by resending them; a follower further behind gets a snapshot.
 * Bounded by bytes: the oldest entries go first, except those a follower installing a snapshot
 * will need right after it ({@link #pin}), which stay up to a hard cap of four times the
 * budget. Not thread-safe: the owning {@link ShardReplica} guards it.
 *
 * <p>Entries are contiguous in seq, so an entry is found by arithmetic, not by a scan: a
 * follower's next batch is read on every append to it, from a tail that may hold hundreds of
 * thousands of small entries.
 */
final class LogTail {

  private final long budgetBytes;
  /** The entries held are {@code entries[head..]}, of seqs {@code [firstSeq, nextSeq)}. */
  private final ArrayList<byte[]> entries = new ArrayList<>();
  private int head;
  /** Pinned seq to how many pins hold it. */
  private final TreeMap<Long, Integer> pins = new TreeMap<>();
  private long bytes;
  /** The seq the next entry must have; the tail holds [firstSeq, nextSeq). */
  private long nextSeq;

  /** An empty tail whose first entry will be {@code nextSeq}. */
  LogTail(long budgetBytes, long nextSeq) {
    this.budgetBytes = budgetBytes;
    this.nextSeq = nextSeq;
  }

  /** The oldest seq still held (equal to {@link #nextSeq} when empty). */
  long firstSeq() {
    return nextSeq - held();
  }

  private int held() {
    return entries.size() - head;
  }

  long nextSeq() {
    return nextSeq;
  }

  void add(long seq, byte[] encoded) {
    if (seq != nextSeq) {
      throw new IllegalStateException("entry " + seq + " added to a tail that expects " + nextSeq);
    }
    entries.add(encoded);
    bytes += encoded.length;
    nextSeq = seq + 1;
    trim();
  }

  /** Entries from {@code fromSeq} on, at most about {@code maxBytes} (at least one if any). */
  List<byte[]> from(long fromSeq, long maxBytes) {
    if (fromSeq < firstSeq()) {
      throw new IllegalArgumentException("entry " + fromSeq + " is no longer kept (from "
          + firstSeq() + ")");
    }
    List<byte[]> out = new ArrayList<>();
    long taken = 0;
    for (int i = head + (int) (fromSeq - firstSeq()); i < entries.size(); i++) {
      byte[] e = entries.get(i);
      if (!out.isEmpty() && taken + e.length > maxBytes) {
        break;
      }
      out.add(e);
      taken += e.length;
    }
    return out;
  }

  /** Keeps entries from {@code seq} on (within the hard cap) until {@link #unpin}. */
  void pin(long seq) {
    pins.merge(seq, 1, Integer::sum);
  }

  void unpin(long seq) {
    pins.computeIfPresent(seq, (s, n) -> n == 1 ? null : n - 1);
    trim();
  }

  private void trim() {
    long keepFrom = pins.isEmpty() ? Long.MAX_VALUE : pins.firstKey();
    while (held() > 0 && bytes > budgetBytes) {
      if (firstSeq() >= keepFrom && bytes <= 4 * budgetBytes) {
        break;
      }
      bytes -= entries.get(head).length;
      entries.set(head++, null);
    }
    // Drops the released slots once they are half the list: amortized O(1) per entry.
    if (head > 1024 && head > entries.size() / 2) {
      entries.subList(0, head).clear();
      head = 0;
    }
  }
}
