package dev.dedupe.server.cluster;

import dev.dedupe.server.replication.ShardState;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The shard states of a cluster formed before replication, from its single {@code assignment}
 * znode ({@code {"shards":[{"shard":0,"owner":"n1","epoch":3,"store":"<id or empty>"},...]}}):
 * each owner becomes its shard's only replica and leader, in sync alone with the store the
 * assignment recorded. The epoch goes up by one, so that anything stamped with the old epoch
 * is older than every write of the new layout.
 */
final class AssignmentMigration {

  private AssignmentMigration() {}

  /**
   * @throws ClusterException if the data is not an assignment of {@code shardCount} shards
   */
  static List<ShardState> statesOf(byte[] assignment, int shardCount) {
    List<ShardState> states = new ArrayList<>();
    try (JsonReader reader = Json.createReader(
        new StringReader(new String(assignment, StandardCharsets.UTF_8)))) {
      List<JsonObject> entries =
          reader.readObject().getJsonArray("shards").getValuesAs(JsonObject.class);
      for (int i = 0; i < entries.size(); i++) {
        JsonObject e = entries.get(i);
        if (e.getInt("shard") != i) {
          throw new ClusterException("the old assignment's entry " + i + " names shard "
              + e.getInt("shard"), null);
        }
        String owner = e.getString("owner");
        // "store" is absent in assignments written before store identities: not recorded.
        states.add(new ShardState(i, List.of(owner), owner,
            e.getJsonNumber("epoch").longValueExact() + 1, Map.of(owner, e.getString("store", ""))));
      }
    } catch (ClusterException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new ClusterException("the old assignment znode cannot be read: "
          + new String(assignment, StandardCharsets.UTF_8), e);
    }
    if (states.size() != shardCount) {
      throw new ClusterException("the old assignment has " + states.size()
          + " shards, but the cluster has " + shardCount, null);
    }
    return states;
  }
}
