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

  record Put(byte[] digest, long bucketStart, StoredRecord record) {}

  record Delete(byte[] digest, long bucketStart) {}

  record CounterKey(long bucketStart, String namespace) {}

  private final List<Put> puts = new ArrayList<>();
  private final List<Delete> deletes = new ArrayList<>();
  private final Map<CounterKey, Long> counterDeltas = new HashMap<>();

  /**
   * Stores a record for the id with this digest in one bucket.
   *
   * @param newKey false when the put replaces a record already in that bucket (a commit, a
   *     lease extension, or an expired record), so that the namespace's key count stays exact
   */
  public void put(
      byte[] digest, String namespace, long bucketStart, StoredRecord record, boolean newKey) {
    puts.add(new Put(digest, bucketStart, record));
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
    return puts.isEmpty() && deletes.isEmpty();
  }

  public int putCount() {
    return puts.size();
  }

  List<Put> puts() {
    return puts;
  }

  List<Delete> deletes() {
    return deletes;
  }

  Map<CounterKey, Long> counterDeltas() {
    return counterDeltas;
  }
}
