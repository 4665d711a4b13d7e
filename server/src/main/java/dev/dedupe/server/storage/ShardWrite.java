package dev.dedupe.server.storage;

import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

/**
 * The changes one round of a shard's write path makes, applied by {@link ShardStore#write} as
 * one atomic write batch. Plain Java until then, so that deciding verdicts crosses into native
 * code only for the batched read and this one write.
 *
 * <p>It holds one final state per (bucket, id digest) key: the record the round leaves there, or
 * none. A later change to a key replaces an earlier one, so the batch holds one operation per
 * key and the order in which it is applied cannot matter. The round's decisions see their own
 * writes in order (a Forget, then a CheckAndInsert that answers NEW); keeping only the last state
 * makes the store end exactly where those decisions assumed. Applying "all puts, then all
 * deletes" instead would delete the record that the NEW answer promised.
 *
 * <p>Counter deltas follow from the same states: per key, whether a record is held after the
 * round minus whether one was held before it, so {@code keys_held} stays exact however often a
 * round touches a key.
 */
public final class ShardWrite {

  /** One id's key in one bucket. The digest array is never changed after it is given here. */
  private record Slot(long bucketStart, ByteBuffer digest) {}

  /**
   * What the round leaves under one key.
   *
   * @param heldBefore whether the key held a record before the round
   * @param after the record the round leaves, or null when it leaves none
   */
  record Change(
      byte[] digest, long bucketStart, String namespace, boolean heldBefore, StoredRecord after) {

    Change to(StoredRecord record) {
      return new Change(digest, bucketStart, namespace, heldBefore, record);
    }

    /** Whether applying this change alters the store at all. */
    boolean altersStore() {
      return heldBefore || after != null;
    }
  }

  record CounterKey(long bucketStart, String namespace) {}

  private final Map<Slot, Change> changes = new HashMap<>();

  /**
   * Leaves {@code record} for the id with this digest in one bucket.
   *
   * @param newKey true when the bucket holds no record of the id at this point of the round, false
   *     when the put replaces one (a commit, a lease change, an expired record, or this round's
   *     own earlier put)
   * @throws IllegalStateException if {@code newKey} contradicts the round's earlier changes to the
   *     key: the caller's view of the key is wrong, and counting on it would skew keys_held
   */
  public void put(
      byte[] digest, String namespace, long bucketStart, StoredRecord record, boolean newKey) {
    Slot slot = new Slot(bucketStart, ByteBuffer.wrap(digest));
    Change earlier = changes.get(slot);
    if (earlier == null) {
      changes.put(slot, new Change(digest, bucketStart, namespace, !newKey, record));
      return;
    }
    if (newKey != (earlier.after() == null)) {
      throw new IllegalStateException("put of a " + (newKey ? "new" : "held") + " key in bucket "
          + bucketStart + " of namespace " + namespace + ", but this round "
          + (earlier.after() == null ? "deleted it" : "already put it"));
    }
    changes.put(slot, earlier.to(record));
  }

  /**
   * Removes the record of the id with this digest from one bucket.
   *
   * @throws IllegalStateException if this round already removed it
   */
  public void delete(byte[] digest, String namespace, long bucketStart) {
    Slot slot = new Slot(bucketStart, ByteBuffer.wrap(digest));
    Change earlier = changes.get(slot);
    if (earlier == null) {
      changes.put(slot, new Change(digest, bucketStart, namespace, true, null));
      return;
    }
    if (earlier.after() == null) {
      throw new IllegalStateException("delete of a key in bucket " + bucketStart
          + " of namespace " + namespace + " that this round already deleted");
    }
    changes.put(slot, earlier.to(null));
  }

  public boolean isEmpty() {
    return changes.values().stream().noneMatch(Change::altersStore);
  }

  /** Keys this write changes. */
  public int changeCount() {
    return changes.size();
  }

  /** The final state of each key the round touched, one per key, in no particular order. */
  Collection<Change> changes() {
    return changes.values();
  }

  /** Per (bucket, namespace): records held after the round minus records held before it. */
  Map<CounterKey, Long> counterDeltas() {
    Map<CounterKey, Long> deltas = new HashMap<>();
    for (Change c : changes.values()) {
      long delta = (c.after() != null ? 1 : 0) - (c.heldBefore() ? 1 : 0);
      if (delta != 0) {
        deltas.merge(new CounterKey(c.bucketStart(), c.namespace()), delta, Long::sum);
      }
    }
    deltas.values().removeIf(d -> d == 0);
    return deltas;
  }
}
