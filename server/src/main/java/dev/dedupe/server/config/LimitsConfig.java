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
 */
public record LimitsConfig(int namespaceMaxChars, int messageIdMaxBytes, int batchMaxIds) {

  public LimitsConfig {
    requireInRange("limits.namespace.max-chars", namespaceMaxChars, 1, 1024);
    requireInRange("limits.message-id.max-bytes", messageIdMaxBytes, 1, 64 * 1024);
    requireInRange("limits.batch.max-ids", batchMaxIds, 1, 1_000_000);
  }

  /**
   * The largest request message that can still be within the limits, with room for framing;
   * the gRPC server refuses bigger messages before they are parsed.
   */
  public int maxRequestBytes() {
    long perId = messageIdMaxBytes + 8L;
    long bytes = perId * batchMaxIds + namespaceMaxChars + 1024;
    return (int) Math.min(Integer.MAX_VALUE, bytes);
  }

  private static void requireInRange(String key, int value, int min, int max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(
          key + " must be in [" + min + ", " + max + "], was " + value);
    }
  }
}
