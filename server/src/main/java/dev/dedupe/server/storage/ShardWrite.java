package dev.dedupe.server.storage;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The changes one round of a shard's write path makes, applied by {@link ShardStore#write} as
 * one atomic write batch. Plain Java until then, so that deciding verdicts crosses into native
 * code only for the batched read and this one write.
 */
public final class ShardWrite {

  record Insert(byte[] digest, long bucketStart, long firstSeenMillis) {}

  record Delete(byte[] digest, long bucketStart) {}

  record CounterKey(long bucketStart, String namespace) {}

  private final List<Insert> inserts = new ArrayList<>();
  private final List<Delete> deletes = new ArrayList<>();
  private final Map<CounterKey, Long> counterDeltas = new HashMap<>();

  /**
   * Records the id with this digest as first seen at {@code firstSeenMillis}.
   *
   * @param newKey false when the put replaces a record already in that bucket (an expired one,
   *     with a window shorter than a bucket), so that the namespace's key count stays exact
   */
  public void insert(
      byte[] digest, String namespace, long bucketStart, long firstSeenMillis, boolean newKey) {
    inserts.add(new Insert(digest, bucketStart, firstSeenMillis));
    if (newKey) {
      counterDeltas.merge(new CounterKey(bucketStart, namespace), 1L, Long::sum);
    }
  }

  /** Removes the record of the id with this digest from one bucket. */
  public void delete(byte[] digest, String namespace, long bucketStart) {
    deletes.add(new Delete(digest, bucketStart));
    counterDeltas.merge(new CounterKey(bucketStart, namespace), -1L, Long::sum);
  }

  public boolean isEmpty() {
    return inserts.isEmpty() && deletes.isEmpty();
  }

  public int insertCount() {
    return inserts.size();
  }

  List<Insert> inserts() {
    return inserts;
  }

  List<Delete> deletes() {
    return deletes;
  }

  Map<CounterKey, Long> counterDeltas() {
    return counterDeltas;
  }
}
