package dev.dedupe.server.config;

/**
 * The request limits, one place for all of them. A request over any limit is rejected whole
 * with INVALID_ARGUMENT naming the field and the limit.
 *
 * @param namespaceMaxChars longest namespace, in characters of [A-Za-z0-9._:/-]
 *     ({@code limits.namespace.max-chars})
 * @param messageIdMaxBytes longest message id, in bytes of UTF-8
 *     ({@code limits.message-id.max-bytes})
 * @param batchMaxIds most ids in one request ({@code limits.batch.max-ids})
 * @param attemptTokenMaxBytes longest attempt token, in bytes of UTF-8
 *     ({@code limits.attempt-token.max-bytes})
 * @param fingerprintMaxBytes longest payload fingerprint ({@code limits.fingerprint.max-bytes})
 * @param resultMaxBytes largest result a Commit may store per id ({@code limits.result.max-bytes})
 * @param leaseMax longest lease a CheckAndInsert or ExtendLease may ask for
 *     ({@code limits.lease.max-seconds})
 */
public record LimitsConfig(
    int namespaceMaxChars,
    int messageIdMaxBytes,
    int batchMaxIds,
    int attemptTokenMaxBytes,
    int fingerprintMaxBytes,
    int resultMaxBytes,
    java.time.Duration leaseMax) {

  public LimitsConfig {
    requireInRange("limits.namespace.max-chars", namespaceMaxChars, 1, 1024);
    requireInRange("limits.message-id.max-bytes", messageIdMaxBytes, 1, 64 * 1024);
    requireInRange("limits.batch.max-ids", batchMaxIds, 1, 1_000_000);
    requireInRange("limits.attempt-token.max-bytes", attemptTokenMaxBytes, 1, 4096);
    requireInRange("limits.fingerprint.max-bytes", fingerprintMaxBytes, 1, 1024);
    requireInRange("limits.result.max-bytes", resultMaxBytes, 0, 1 << 20);
    requireInRange("limits.lease.max-seconds", (int) Math.min(Integer.MAX_VALUE, leaseMax.toSeconds()),
        1, 7 * 24 * 3600);
  }

  /**
   * The largest request message that can still be within the limits, with room for framing;
   * the gRPC server refuses bigger messages before they are parsed.
   */
  public int maxRequestBytes() {
    // The largest of CheckAndInsert (id and fingerprint per id) and Commit (id and result).
    long perId = messageIdMaxBytes + 8L + Math.max(fingerprintMaxBytes + 4L, resultMaxBytes + 4L);
    long bytes = perId * batchMaxIds + namespaceMaxChars + attemptTokenMaxBytes + 1024;
    return (int) Math.min(Integer.MAX_VALUE, bytes);
  }

  private static void requireInRange(String key, int value, int min, int max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(
          key + " must be in [" + min + ", " + max + "], was " + value);
    }
  }
}
