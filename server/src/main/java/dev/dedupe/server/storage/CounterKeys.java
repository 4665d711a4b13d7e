package dev.dedupe.server.storage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Per-namespace key counters, kept inside each bucket so that they leave with it.
 *
 * <p>A counter's key is {@code 0x00 "count" 0x00 namespace}, beside the 16-byte digests in the
 * same column family; its value is a little-endian 64-bit integer updated with RocksDB's
 * {@code uint64add} merge operator, so an insert batch adds one merge per namespace instead of
 * a read-modify-write. A counter key equals a digest only if a 128-bit hash hits it exactly.
 */
final class CounterKeys {

  static final byte[] PREFIX = "\0count\0".getBytes(StandardCharsets.US_ASCII);

  private CounterKeys() {}

  static byte[] keyFor(String namespace) {
    byte[] ns = namespace.getBytes(StandardCharsets.UTF_8);
    byte[] key = Arrays.copyOf(PREFIX, PREFIX.length + ns.length);
    System.arraycopy(ns, 0, key, PREFIX.length, ns.length);
    return key;
  }

  static boolean isCounterKey(byte[] key) {
    return key.length > PREFIX.length
        && Arrays.equals(key, 0, PREFIX.length, PREFIX, 0, PREFIX.length);
  }

  static String namespaceOf(byte[] key) {
    return new String(key, PREFIX.length, key.length - PREFIX.length, StandardCharsets.UTF_8);
  }

  /** The merge operand that adds {@code delta} (negative to subtract, in two's complement). */
  static byte[] operand(long delta) {
    return ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).putLong(delta).array();
  }

  static long decode(byte[] value) {
    return ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getLong();
  }
}
