package dev.dedupe.server.config;

import java.util.Objects;

/**
 * Where a listener binds.
 *
 * @param host the address to bind; 0.0.0.0 listens on every interface
 * @param port the TCP port; 0 picks a free one (the bound port is logged and printed)
 */
public record EndpointConfig(String host, int port) {

  public EndpointConfig {
    Objects.requireNonNull(host, "host");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be in [0, 65535], was " + port);
    }
  }
}
