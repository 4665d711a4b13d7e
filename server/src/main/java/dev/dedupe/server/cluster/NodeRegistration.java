package dev.dedupe.server.cluster;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonReader;
import jakarta.json.JsonString;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a node says of itself in its ephemeral {@code nodes/<id>} znode: where to reach it, and
 * the identity of each shard store it has open. The controller records those identities in
 * the shards' in-sync sets and elect leaders by them; a node that comes back with an empty
 * store shows a new identity there.
 *
 * @param grpc the API address, host:port
 * @param ops the ops address, host:port
 * @param replication the replication listener's address, host:port ("" in registrations of
 *     versions before replication)
 * @param zone the node's zone ({@code cluster.zone}), "" for none: placement spreads replicas
 *     across zones
 * @param stores shard to the identity of the store this node has open for it, for every
 *     replica it holds, leader or follower
 * @param stopping whether the node is stopping (SIGTERM): the controller hands every shard it
 *     leads to another in-sync replica and elects it only when no one else can lead. Written as
 *     {@code "stopping": true} only when true, so older readers see nothing new
 */
public record NodeRegistration(String grpc, String ops, String replication, String zone,
    Map<Integer, String> stores, boolean stopping) {

  public NodeRegistration {
    java.util.Objects.requireNonNull(replication, "replication");
    java.util.Objects.requireNonNull(zone, "zone");
    stores = Map.copyOf(stores);
  }

  /** A registration of a node that is not stopping. */
  public NodeRegistration(
      String grpc, String ops, String replication, String zone, Map<Integer, String> stores) {
    this(grpc, ops, replication, zone, stores, false);
  }

  /** This registration with {@code newStores} as its stores. */
  public NodeRegistration withStores(Map<Integer, String> newStores) {
    return new NodeRegistration(grpc, ops, replication, zone, newStores, stopping);
  }

  /** This registration of a node that is stopping. */
  public NodeRegistration asStopping() {
    return new NodeRegistration(grpc, ops, replication, zone, stores, true);
  }

  public byte[] toJson() {
    JsonObjectBuilder byShard = Json.createObjectBuilder();
    new TreeMap<>(stores).forEach((shard, id) -> byShard.add(Integer.toString(shard), id));
    JsonObjectBuilder root = Json.createObjectBuilder().add("grpc", grpc).add("ops", ops)
        .add("replication", replication).add("zone", zone)
        .add("stores", byShard);
    if (stopping) {
      root.add("stopping", true);
    }
    return root.build().toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Parses a node znode's data; "stores", "replication", "zone" and "stopping" are absent in
   * registrations of older versions.
   */
  public static NodeRegistration fromJson(byte[] data) {
    try (JsonReader reader = Json.createReader(
        new StringReader(new String(data, StandardCharsets.UTF_8)))) {
      JsonObject root = reader.readObject();
      Map<Integer, String> stores = new TreeMap<>();
      JsonObject byShard = root.getJsonObject("stores");
      if (byShard != null) {
        byShard.forEach((shard, id) -> stores.put(Integer.parseInt(shard),
            ((JsonString) id).getString()));
      }
      return new NodeRegistration(root.getString("grpc"), root.getString("ops"),
          root.getString("replication", ""), root.getString("zone", ""), stores,
          root.getBoolean("stopping", false));
    }
  }
}
