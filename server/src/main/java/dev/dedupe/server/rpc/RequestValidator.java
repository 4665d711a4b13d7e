package dev.dedupe.server.rpc;

import dev.dedupe.server.config.LimitsConfig;
import dev.dedupe.server.decision.InsertOptions;
import dev.dedupe.v1.CheckAndInsertRequest;
import java.util.List;

/**
 * The request rules, in one place: namespace format and length, id length, batch size. A
 * request is checked whole before any of it reaches a shard, so a rejected request records
 * nothing.
 */
public final class RequestValidator {

  /** The namespace alphabet, as the API documents it. No 0x00, which the shard hash relies on. */
  static final String NAMESPACE_ALPHABET = "[A-Za-z0-9._:/-]";

  private final LimitsConfig limits;

  public RequestValidator(LimitsConfig limits) {
    this.limits = limits;
  }

  public LimitsConfig limits() {
    return limits;
  }

  /** Checks a namespace and a batch of message ids. */
  public void validate(String namespace, List<String> messageIds) {
    validateNamespace(namespace);
    if (messageIds.size() > limits.batchMaxIds()) {
      throw new InvalidRequestException("message_ids",
          "message_ids has " + messageIds.size() + " ids; the limit is " + limits.batchMaxIds()
              + " per request (limits.batch.max-ids)");
    }
    for (int i = 0; i < messageIds.size(); i++) {
      String id = messageIds.get(i);
      if (id.isEmpty()) {
        throw new InvalidRequestException("message_ids[" + i + "]",
            "message_ids[" + i + "] is empty; a message id is 1 to "
                + limits.messageIdMaxBytes() + " bytes of UTF-8");
      }
      int bytes = utf8Length(id, limits.messageIdMaxBytes());
      if (bytes > limits.messageIdMaxBytes()) {
        throw new InvalidRequestException("message_ids[" + i + "]",
            "message_ids[" + i + "] is longer than " + limits.messageIdMaxBytes()
                + " bytes of UTF-8, the limit (limits.message-id.max-bytes)");
      }
    }
  }

  /**
   * Checks a whole CheckAndInsert request and returns what it asks for besides the ids: the
   * token, the lease in milliseconds, and one fingerprint per id (or none).
   */
  public InsertOptions validateCheckAndInsert(CheckAndInsertRequest request) {
    List<String> ids = request.getMessageIdsList();
    validate(request.getNamespace(), ids);
    long lease = validateLease(
        request.getLeaseDuration().getSeconds(), request.getLeaseDuration().getNanos(), false);
    validateToken(request.getAttemptToken(), lease > 0,
        "with lease_duration: the token owns the lease");
    validateFingerprint(request.getFingerprint());
    validatePerId("fingerprints", request.getFingerprintsList(), ids.size(),
        limits.fingerprintMaxBytes(), "limits.fingerprint.max-bytes");
    List<byte[]> fingerprints;
    if (!request.getFingerprintsList().isEmpty()) {
      fingerprints = request.getFingerprintsList().stream()
          .map(com.google.protobuf.ByteString::toByteArray).toList();
    } else if (!request.getFingerprint().isEmpty()) {
      fingerprints = java.util.Collections.nCopies(ids.size(), request.getFingerprint().toByteArray());
    } else {
      fingerprints = List.of();
    }
    return new InsertOptions(request.getAttemptToken(), lease, fingerprints);
  }

  /**
   * Checks an attempt token.
   *
   * @param required whether the call needs one (lease operations, leases)
   */
  public void validateToken(String token, boolean required, String why) {
    if (token.isEmpty()) {
      if (required) {
        throw new InvalidRequestException("attempt_token", "attempt_token is required " + why);
      }
      return;
    }
    if (utf8Length(token, limits.attemptTokenMaxBytes()) > limits.attemptTokenMaxBytes()) {
      throw new InvalidRequestException("attempt_token",
          "attempt_token is longer than " + limits.attemptTokenMaxBytes()
              + " bytes of UTF-8, the limit (limits.attempt-token.max-bytes)");
    }
  }

  /**
   * Checks a lease length given as seconds and nanos (a protobuf Duration) and returns it in
   * milliseconds; 0 when unset and not required.
   */
  public long validateLease(long seconds, int nanos, boolean required) {
    if (seconds < 0 || nanos < 0 || (seconds == 0 && nanos == 0)) {
      if (!required && seconds == 0 && nanos == 0) {
        return 0;
      }
      throw new InvalidRequestException("lease_duration",
          "lease_duration must be more than zero and at most " + limits.leaseMax().toSeconds()
              + " s (limits.lease.max-seconds)");
    }
    java.time.Duration lease = java.time.Duration.ofSeconds(seconds, nanos);
    if (lease.compareTo(limits.leaseMax()) > 0) {
      throw new InvalidRequestException("lease_duration",
          "lease_duration is " + lease.toSeconds() + " s; the limit is "
              + limits.leaseMax().toSeconds() + " s (limits.lease.max-seconds)");
    }
    return Math.max(1, lease.toMillis());
  }

  /**
   * Checks per-id byte strings (fingerprints, results): none, or one per id, each within
   * {@code maxBytes}.
   */
  public void validatePerId(
      String field, List<com.google.protobuf.ByteString> values, int ids, int maxBytes,
      String limitKey) {
    if (!values.isEmpty() && values.size() != ids) {
      throw new InvalidRequestException(field,
          field + " has " + values.size() + " entries for " + ids
              + " message_ids; give none or one per id");
    }
    for (int i = 0; i < values.size(); i++) {
      if (values.get(i).size() > maxBytes) {
        throw new InvalidRequestException(field + "[" + i + "]",
            field + "[" + i + "] is " + values.get(i).size() + " bytes; the limit is " + maxBytes
                + " (" + limitKey + ")");
      }
    }
  }

  /** Checks one fingerprint for the whole request. */
  public void validateFingerprint(com.google.protobuf.ByteString fingerprint) {
    if (fingerprint.size() > limits.fingerprintMaxBytes()) {
      throw new InvalidRequestException("fingerprint",
          "fingerprint is " + fingerprint.size() + " bytes; the limit is "
              + limits.fingerprintMaxBytes() + " (limits.fingerprint.max-bytes)");
    }
  }

  /** Checks a namespace alone. */
  public void validateNamespace(String namespace) {
    int max = limits.namespaceMaxChars();
    if (namespace.isEmpty()) {
      throw new InvalidRequestException("namespace",
          "namespace is empty; it must be 1 to " + max + " characters of " + NAMESPACE_ALPHABET);
    }
    if (namespace.length() > max) {
      throw new InvalidRequestException("namespace",
          "namespace is " + namespace.length() + " characters; the limit is " + max
              + " (limits.namespace.max-chars)");
    }
    for (int i = 0; i < namespace.length(); i++) {
      char c = namespace.charAt(i);
      if (!isNamespaceChar(c)) {
        throw new InvalidRequestException("namespace",
            "namespace has a character outside " + NAMESPACE_ALPHABET + " at index " + i);
      }
    }
  }

  private static boolean isNamespaceChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
  }

  /** UTF-8 length of {@code s}, counting no further than just past {@code stopAfter}. */
  static int utf8Length(String s, int stopAfter) {
    int bytes = 0;
    for (int i = 0; i < s.length() && bytes <= stopAfter; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }
}
