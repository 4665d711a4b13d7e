package dev.dedupe.server.cluster;

import dev.dedupe.server.replication.ShardState;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonReader;
import jakarta.json.JsonString;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A shard znode's data: {@code {"replicas":[...],"leader":"n1","epoch":7,"isr":{"n1":"<store
 * id>",...}}}. The shard's number is its znode's name, not part of the data. Unknown fields
 * are ignored, so that a later version may add some without stopping older nodes.
 */
public final class ShardStateJson {

  private ShardStateJson() {}

  public static byte[] toJson(ShardState state) {
    JsonArrayBuilder replicas = Json.createArrayBuilder();
    state.replicas().forEach(replicas::add);
    JsonObjectBuilder isr = Json.createObjectBuilder();
    state.isr().forEach(isr::add);
    return Json.createObjectBuilder()
        .add("replicas", replicas)
        .add("leader", state.leader())
        .add("epoch", state.epoch())
        .add("isr", isr)
        .build().toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * @throws ClusterException if the data is not a shard state
   */
  public static ShardState fromJson(int shard, byte[] data) {
    try (JsonReader reader = Json.createReader(
        new StringReader(new String(data, StandardCharsets.UTF_8)))) {
      JsonObject root = reader.readObject();
      List<String> replicas = new ArrayList<>();
      root.getJsonArray("replicas").getValuesAs(JsonString.class)
          .forEach(r -> replicas.add(r.getString()));
      Map<String, String> isr = new LinkedHashMap<>();
      JsonObject members = root.getJsonObject("isr");
      if (members != null) {
        members.forEach((node, store) -> isr.put(node, ((JsonString) store).getString()));
      }
      return new ShardState(shard, replicas, root.getString("leader", ShardState.NO_LEADER),
          root.getJsonNumber("epoch").longValueExact(), isr);
    } catch (RuntimeException e) {
      throw new ClusterException("shard " + shard + "'s state znode holds no valid state: "
          + new String(data, StandardCharsets.UTF_8), e);
    }
  }
}
