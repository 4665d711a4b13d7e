package dev.dedupe.server.replication;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.TreeMap;

/**
 * A leader's most recent entries of one shard, encoded, kept in memory so that a follower a
 * little behind catches up by resending them; a follower further behind gets a snapshot.
 * Bounded by bytes: the oldest entries go first, except those a follower installing a snapshot
 * will need right after it ({@link #pin}), which stay up to a hard cap of four times the
 * budget. Not thread-safe: the owning {@link ShardReplica} guards it.
 */
final class LogTail {

  private record Kept(long seq, byte[] encoded) {}

  private final long budgetBytes;
  private final ArrayDeque<Kept> entries = new ArrayDeque<>();
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
    return entries.isEmpty() ? nextSeq : entries.peekFirst().seq();
  }

  long nextSeq() {
    return nextSeq;
  }

  void add(long seq, byte[] encoded) {
    if (seq != nextSeq) {
      throw new IllegalStateException("entry " + seq + " added to a tail that expects " + nextSeq);
    }
    entries.addLast(new Kept(seq, encoded));
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
    Iterator<Kept> it = entries.iterator();
    while (it.hasNext()) {
      Kept k = it.next();
      if (k.seq() < fromSeq) {
        continue;
      }
      if (!out.isEmpty() && taken + k.encoded().length > maxBytes) {
        break;
      }
      out.add(k.encoded());
      taken += k.encoded().length;
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
    while (!entries.isEmpty() && bytes > budgetBytes) {
      Kept oldest = entries.peekFirst();
      if (oldest.seq() >= keepFrom && bytes <= 4 * budgetBytes) {
        break;
      }
      entries.pollFirst();
      bytes -= oldest.encoded().length;
    }
  }
}
