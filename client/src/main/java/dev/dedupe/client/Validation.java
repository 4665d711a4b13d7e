package dev.dedupe.client;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The checks the client makes before sending: the ones that cannot depend on the server's
 * configuration. Lengths and counts are left to the server (its limits are configurable), which
 * answers INVALID_ARGUMENT naming the field and the limit.
 */
final class Validation {

  private Validation() {}

  /** A namespace: non-empty, of [A-Za-z0-9._:/-] (the API's alphabet; no 0x00 for the hash). */
  static String namespace(String namespace) {
    Objects.requireNonNull(namespace, "namespace");
    if (namespace.isEmpty()) {
      throw new IllegalArgumentException("namespace must be 1 or more characters of"
          + " [A-Za-z0-9._:/-], was empty");
    }
    for (int i = 0; i < namespace.length(); i++) {
      char c = namespace.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
      if (!ok) {
        throw new IllegalArgumentException("namespace must be characters of [A-Za-z0-9._:/-],"
            + " was '" + namespace + "' (bad character at index " + i + ")");
      }
    }
    return namespace;
  }

  /** A message id: non-null, non-empty. */
  static String id(String id, int index) {
    if (id == null) {
      throw new NullPointerException("message id at index " + index + " is null");
    }
    if (id.isEmpty()) {
      throw new IllegalArgumentException("message id at index " + index + " is empty; an id is 1"
          + " or more bytes of UTF-8");
    }
    return id;
  }

  /** A list of message ids, copied. */
  static List<String> ids(List<String> ids) {
    Objects.requireNonNull(ids, "messageIds");
    List<String> copy = new ArrayList<>(ids.size());
    for (int i = 0; i < ids.size(); i++) {
      copy.add(id(ids.get(i), i));
    }
    return copy;
  }

  /** An attempt token: non-empty UTF-8. */
  static String token(String token) {
    Objects.requireNonNull(token, "attemptToken");
    if (token.isEmpty()) {
      throw new IllegalArgumentException("attemptToken must not be empty: pass the"
          + " Decision.attemptToken() of the NEW decision");
    }
    return token;
  }

  /** host:port, with a port in [1, 65535]; IPv6 hosts in brackets. */
  static String hostPort(String address) {
    Objects.requireNonNull(address, "address");
    int colon = address.lastIndexOf(':');
    String host = colon > 0 ? address.substring(0, colon) : "";
    if (host.isEmpty() || (host.contains(":") && !(host.startsWith("[") && host.endsWith("]")))) {
      throw new IllegalArgumentException("target must be host:port, was '" + address + "'");
    }
    int port;
    try {
      port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("target must be host:port with a numeric port, was '"
          + address + "'");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("target port must be in [1, 65535], was '" + address + "'");
    }
    return address;
  }

  /** A positive duration. */
  static Duration positive(String what, Duration d) {
    Objects.requireNonNull(d, what);
    if (d.isZero() || d.isNegative()) {
      throw new IllegalArgumentException(what + " must be more than zero, was " + d);
    }
    return d;
  }

  /** A duration in (0, max], or [0, max] when zero is allowed. */
  static Duration inRange(String what, Duration d, boolean zeroAllowed, Duration max) {
    Objects.requireNonNull(d, what);
    if (d.isNegative() || (d.isZero() && !zeroAllowed) || d.compareTo(max) > 0) {
      throw new IllegalArgumentException(what + " must be in " + (zeroAllowed ? "[0, " : "(0, ")
          + max + "], was " + d);
    }
    return d;
  }
}
