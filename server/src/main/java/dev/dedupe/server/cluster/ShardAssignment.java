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
   */
  public record Entry(int shard, String owner, long epoch) {}

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
      entries.add(new Entry(s, sorted.get(s % sorted.size()), 1));
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

  /** The same assignment with one shard moved to {@code newOwner} at the next epoch. */
  public ShardAssignment withOwner(int shard, String newOwner) {
    List<Entry> entries = new ArrayList<>(shards);
    Entry old = shards.get(shard);
    entries.set(shard, new Entry(shard, newOwner, old.epoch() + 1));
    return new ShardAssignment(entries);
  }

  public byte[] toJson() {
    JsonArrayBuilder array = Json.createArrayBuilder();
    for (Entry e : shards) {
      array.add(Json.createObjectBuilder()
          .add("shard", e.shard()).add("owner", e.owner()).add("epoch", e.epoch()));
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
        entries.add(new Entry(e.getInt("shard"), e.getString("owner"),
            e.getJsonNumber("epoch").longValueExact()));
      }
      return Optional.of(new ShardAssignment(entries));
    }
  }
}
