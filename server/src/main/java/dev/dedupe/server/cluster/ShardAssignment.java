package dev.dedupe.server.cluster;

import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Which node owns each shard, and each shard's epoch: the number of owner changes it has seen.
 * Immutable; the controller writes a new one with a fenced ZooKeeper transaction.
 *
 * @param shards one entry per shard, in shard order
 */
public record ShardAssignment(List<Entry> shards) {

  /**
   * One shard's owner.
   *
   * @param shard the shard
   * @param owner the owning node's id
   * @param epoch goes up by one on every change of owner; a node serves the shard only at the
   *     epoch it read, so a stale owner cannot be mistaken for the current one
   * @param storeId the identity of the owner's store for this shard, recorded by the
   *     controller once the owner has opened it; "" until then. The owner serves the shard
   *     only from the store with this identity: a store created empty in its place (a lost
   *     disk) is not mistaken for the one that acknowledged the shard's ids
   */
  public record Entry(int shard, String owner, long epoch, String storeId) {

    public Entry {
      java.util.Objects.requireNonNull(storeId, "storeId");
    }

    /** Whether the owner's store for this shard has been recorded. */
    public boolean storeRecorded() {
      return !storeId.isEmpty();
    }
  }

  public ShardAssignment {
    shards = List.copyOf(shards);
    for (int i = 0; i < shards.size(); i++) {
      if (shards.get(i).shard() != i) {
        throw new IllegalArgumentException("assignment entry " + i + " names shard "
            + shards.get(i).shard());
      }
    }
  }

  /**
   * Spreads {@code shardCount} shards evenly over {@code nodeIds} (sorted, so that every
   * controller computes the same spread), all at epoch 1.
   */
  public static ShardAssignment spread(int shardCount, List<String> nodeIds) {
    if (nodeIds.isEmpty()) {
      throw new IllegalArgumentException("cannot spread shards over no nodes");
    }
    List<String> sorted = nodeIds.stream().sorted().toList();
    List<Entry> entries = new ArrayList<>(shardCount);
    for (int s = 0; s < shardCount; s++) {
      entries.add(new Entry(s, sorted.get(s % sorted.size()), 1, ""));
    }
    return new ShardAssignment(entries);
  }

  public int shardCount() {
    return shards.size();
  }

  public Entry shard(int shard) {
    return shards.get(shard);
  }

  /** The shards {@code nodeId} owns. */
  public List<Integer> ownedBy(String nodeId) {
    return shards.stream().filter(e -> e.owner().equals(nodeId)).map(Entry::shard).toList();
  }

  /**
   * The same assignment with one shard moved to {@code newOwner} at the next epoch; the new
   * owner's store is recorded once it has opened it.
   */
  public ShardAssignment withOwner(int shard, String newOwner) {
    Entry old = shards.get(shard);
    return with(new Entry(shard, newOwner, old.epoch() + 1, ""));
  }

  /** The same assignment with the owner's store for {@code shard} recorded as {@code storeId}. */
  public ShardAssignment withStore(int shard, String storeId) {
    Entry old = shards.get(shard);
    return with(new Entry(shard, old.owner(), old.epoch(), storeId));
  }

  private ShardAssignment with(Entry entry) {
    List<Entry> entries = new ArrayList<>(shards);
    entries.set(entry.shard(), entry);
    return new ShardAssignment(entries);
  }

  public byte[] toJson() {
    JsonArrayBuilder array = Json.createArrayBuilder();
    for (Entry e : shards) {
      array.add(Json.createObjectBuilder()
          .add("shard", e.shard()).add("owner", e.owner()).add("epoch", e.epoch())
          .add("store", e.storeId()));
    }
    return Json.createObjectBuilder().add("shards", array).build().toString()
        .getBytes(StandardCharsets.UTF_8);
  }

  /** Parses the assignment znode's data; empty for an empty znode. */
  public static Optional<ShardAssignment> fromJson(byte[] data) {
    if (data == null || data.length == 0) {
      return Optional.empty();
    }
    try (JsonReader reader = Json.createReader(new StringReader(new String(data, StandardCharsets.UTF_8)))) {
      JsonObject root = reader.readObject();
      List<Entry> entries = new ArrayList<>();
      for (JsonObject e : root.getJsonArray("shards").getValuesAs(JsonObject.class)) {
        // "store" is absent in assignments written before store identities: none recorded.
        entries.add(new Entry(e.getInt("shard"), e.getString("owner"),
            e.getJsonNumber("epoch").longValueExact(), e.getString("store", "")));
      }
      return Optional.of(new ShardAssignment(entries));
    }
  }
}
