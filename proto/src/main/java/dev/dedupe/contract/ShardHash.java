package dev.dedupe.contract;

import com.google.common.hash.HashFunction;
import com.google.common.hash.Hashing;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The one hash of (namespace, message id) that clients and every server node must agree on,
 * forever: it names the key a record is stored under and the shard that owns it.
 *
 * <p>Definition (v1), so that a client in any language can reproduce it:
 * <pre>
 *   input  = utf8(namespace) || 0x00 || utf8(message_id)
 *   digest = MurmurHash3_x64_128(input, seed = 0), as its 16 bytes (h1 then h2, each little-endian)
 *   shard  = unsigned64(h1) mod shard_count      where h1 = the first 8 digest bytes, little-endian
 * </pre>
 * Namespaces cannot contain 0x00 (see the API's namespace rule), so the separator makes the
 * input unambiguous. The golden vectors in {@code ShardHashTest} pin this definition; changing
 * any of it re-homes every stored id, so it must never change under the v1 name.
 *
 * <p>128 bits keep collisions negligible at the scale we plan for: with n keys alive in one
 * namespace, the chance that any two share a digest is about n²/2¹²⁹, which is 5·10⁻¹⁸ for
 * n = 60 billion (see docs/design.md).
 */
public final class ShardHash {

  /**
   * The name of this hash, as data directories, the cluster's config znode and the shard map
   * ({@code GetShardMap.hash}) carry it: a client checks it before routing by itself.
   */
  public static final String NAME = "murmur3_x64_128-v1";

  /** Length in bytes of {@link #digest}. */
  public static final int DIGEST_BYTES = 16;

  private static final HashFunction MURMUR3_128 = Hashing.murmur3_128(0);

  private ShardHash() {}

  /** The 16-byte digest of (namespace, messageId). */
  public static byte[] digest(String namespace, String messageId) {
    return digest(namespace.getBytes(StandardCharsets.UTF_8), messageId);
  }

  /**
   * The 16-byte digest of (namespace, messageId), for callers that hash many ids of one
   * namespace and encode it once.
   */
  public static byte[] digest(byte[] namespaceUtf8, String messageId) {
    byte[] id = messageId.getBytes(StandardCharsets.UTF_8);
    return MURMUR3_128
        .newHasher(namespaceUtf8.length + 1 + id.length)
        .putBytes(namespaceUtf8)
        .putByte((byte) 0)
        .putBytes(id)
        .hash()
        .asBytes();
  }

  /** The shard, in [0, shardCount), that owns the id with this digest. */
  public static int shardOf(byte[] digest, int shardCount) {
    if (shardCount <= 0) {
      throw new IllegalArgumentException("shardCount must be positive, was " + shardCount);
    }
    long h1 = ByteBuffer.wrap(digest, 0, Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).getLong();
    return (int) Long.remainderUnsigned(h1, shardCount);
  }

  /** The shard, in [0, shardCount), that owns (namespace, messageId). */
  public static int shardOf(String namespace, String messageId, int shardCount) {
    return shardOf(digest(namespace, messageId), shardCount);
  }
}
