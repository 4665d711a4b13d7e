package dev.dedupe.server.config;

import java.util.Objects;

/**
 * Everything a node is configured with; built once by {@link ConfigLoader} and never changed.
 *
 * @param grpc the API listener ({@code grpc.host}, {@code grpc.port})
 * @param advertisedAddress host:port that clients should use to reach this node's API, as the
 *     shard map reports it ({@code grpc.advertised-address}); empty means derived from the
 *     bound address
 * @param ops the health and metrics listener ({@code ops.host}, {@code ops.port})
 * @param storage the shard stores
 * @param limits the request limits
 * @param windows the dedupe windows
 * @param cluster whether and how to join a cluster
 */
public record ServerConfig(
    EndpointConfig grpc,
    String advertisedAddress,
    EndpointConfig ops,
    StorageConfig storage,
    LimitsConfig limits,
    WindowConfig windows,
    ClusterConfig cluster) {

  public ServerConfig {
    Objects.requireNonNull(grpc, "grpc");
    Objects.requireNonNull(advertisedAddress, "grpc.advertised-address");
    Objects.requireNonNull(ops, "ops");
    Objects.requireNonNull(storage, "storage");
    Objects.requireNonNull(limits, "limits");
    Objects.requireNonNull(windows, "windows");
    Objects.requireNonNull(cluster, "cluster");
  }
}
