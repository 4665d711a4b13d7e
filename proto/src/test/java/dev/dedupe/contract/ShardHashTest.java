package dev.dedupe.contract;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.hash.Hashing;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Pins the shard hash forever: clients in other languages and every future node must compute
 * the same digests and shards, or stored ids would be answered NEW again.
 */
class ShardHashTest {

  @Test
  void theUnderlyingHashIsStandardMurmur3x64_128WithSeedZero() {
    // The published MurmurHash3_x64_128 vector (seed 0), as 16 bytes h1 then h2, little-endian.
    byte[] digest = Hashing.murmur3_128(0)
        .hashBytes("The quick brown fox jumps over the lazy dog".getBytes(StandardCharsets.US_ASCII))
        .asBytes();
    assertEquals("6c1b07bc7bbc4be347939ac4a93c437a", HexFormat.of().formatHex(digest));
  }

  @ParameterizedTest(name = "{0} / {1}")
  @CsvSource(delimiter = '|', textBlock = """
      orders          | order-1                              | b65f4a52df285e1b007d940f718c035b | 6  | 54 | 862
      payments.charge | 3f1c2a9e-5b7d-4c1e-9f2a-0d6b8e4c7a11 | 4daac0bf466336eda2bb55e5e3c0be91 | 13 | 13 | 565
      a               | b                                    | dbb5e6c1d292ef2db4b207b3d0f0a9a3 | 11 | 27 | 883
      ns              | ünïcødé-✓                            | a6bffb1926df2305c79587a7400adfbd | 6  | 38 | 934
      """)
  void goldenVectors(String namespace, String id, String digestHex, int of16, int of64, int of1000) {
    byte[] digest = ShardHash.digest(namespace, id);
    assertEquals(digestHex, HexFormat.of().formatHex(digest));
    assertEquals(of16, ShardHash.shardOf(digest, 16));
    assertEquals(of64, ShardHash.shardOf(digest, 64));
    assertEquals(of1000, ShardHash.shardOf(namespace, id, 1000));
  }

  @Test
  void digestIsMurmurOfNamespaceZeroByteIdAsDocumented() {
    String namespace = "payments.charge";
    String id = "ünïcødé-✓";
    ByteArrayOutputStream input = new ByteArrayOutputStream();
    input.writeBytes(namespace.getBytes(StandardCharsets.UTF_8));
    input.write(0);
    input.writeBytes(id.getBytes(StandardCharsets.UTF_8));
    byte[] expected = Hashing.murmur3_128(0).hashBytes(input.toByteArray()).asBytes();
    assertArrayEquals(expected, ShardHash.digest(namespace, id));
    assertEquals(ShardHash.DIGEST_BYTES, expected.length);
  }

  @Test
  void shardIsTheUnsignedFirstHalfModuloTheCount() {
    // h1 = 0xe34bbc7bbc071b6c has its top bit set: a signed modulo would give a negative shard.
    byte[] digest = HexFormat.of().parseHex("6c1b07bc7bbc4be347939ac4a93c437a");
    long h1 = 0xe34bbc7bbc071b6cL;
    for (int count : new int[] {1, 7, 16, 1000, 4096}) {
      int shard = ShardHash.shardOf(digest, count);
      assertEquals(Long.remainderUnsigned(h1, count), shard);
      assertTrue(shard >= 0 && shard < count);
    }
  }

  @Test
  void namespacesSeparateTheSameId() {
    assertNotEquals(
        HexFormat.of().formatHex(ShardHash.digest("a", "bc")),
        HexFormat.of().formatHex(ShardHash.digest("ab", "c")));
  }

  @Test
  void rejectsANonPositiveShardCount() {
    assertThrows(IllegalArgumentException.class, () -> ShardHash.shardOf("a", "b", 0));
  }
}
