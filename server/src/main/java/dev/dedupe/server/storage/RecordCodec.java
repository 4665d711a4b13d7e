package dev.dedupe.server.storage;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The value stored under an id's digest. The first byte is the kind, so a reader that meets a
 * kind it does not know fails loudly instead of guessing. Times are stored as unsigned 32-bit
 * millisecond offsets from the start of the record's bucket (the column family's name): a
 * bucket is at most 7 days wide, well under the 49 days that 32 bits of milliseconds hold.
 *
 * <pre>
 * kind 1 SEEN        offset(4)                                              5 bytes: plain
 *                    CheckAndInsert with no token or fingerprint
 * kind 2 COMMITTED   offset(4) tokenLen(2) token fpLen(1) fp result...      result = the rest
 * kind 3 LEASED      offset(4) leaseEnd(8) tokenLen(2) token fpLen(1) fp
 * </pre>
 */
final class RecordCodec {

  static final byte KIND_SEEN = 1;
  static final byte KIND_COMMITTED = 2;
  static final byte KIND_LEASED = 3;

  private RecordCodec() {}

  static byte[] encode(long bucketStart, StoredRecord r) {
    long offset = offset(bucketStart, r.firstSeenMillis());
    byte[] token = r.token().getBytes(StandardCharsets.UTF_8);
    if (r.state() == StoredRecord.State.COMMITTED && token.length == 0
        && r.fingerprint().length == 0 && r.result().length == 0) {
      return ByteBuffer.allocate(5).put(KIND_SEEN).putInt((int) offset).array();
    }
    boolean leased = r.state() == StoredRecord.State.IN_PROGRESS;
    int size = 1 + 4 + (leased ? 8 : 0) + 2 + token.length + 1 + r.fingerprint().length
        + (leased ? 0 : r.result().length);
    ByteBuffer b = ByteBuffer.allocate(size);
    b.put(leased ? KIND_LEASED : KIND_COMMITTED).putInt((int) offset);
    if (leased) {
      b.putLong(r.leaseExpiresMillis());
    }
    b.putShort((short) token.length).put(token);
    b.put((byte) r.fingerprint().length).put(r.fingerprint());
    if (!leased) {
      b.put(r.result());
    }
    return b.array();
  }

  static StoredRecord decode(long bucketStart, byte[] value) {
    if (value.length < 5) {
      throw unknown(bucketStart, value);
    }
    ByteBuffer b = ByteBuffer.wrap(value);
    byte kind = b.get();
    long firstSeen = bucketStart + Integer.toUnsignedLong(b.getInt());
    switch (kind) {
      case KIND_SEEN:
        return StoredRecord.committed(firstSeen, "", StoredRecord.NONE);
      case KIND_COMMITTED: {
        String token = readToken(b);
        byte[] fp = readFingerprint(b);
        byte[] result = new byte[b.remaining()];
        b.get(result);
        return StoredRecord.committed(firstSeen, token, fp).commit(result);
      }
      case KIND_LEASED: {
        long leaseEnd = b.getLong();
        String token = readToken(b);
        byte[] fp = readFingerprint(b);
        return StoredRecord.leased(firstSeen, token, leaseEnd, fp);
      }
      default:
        throw unknown(bucketStart, value);
    }
  }

  private static String readToken(ByteBuffer b) {
    byte[] token = new byte[Short.toUnsignedInt(b.getShort())];
    b.get(token);
    return new String(token, StandardCharsets.UTF_8);
  }

  private static byte[] readFingerprint(ByteBuffer b) {
    int n = Byte.toUnsignedInt(b.get());
    if (n == 0) {
      return StoredRecord.NONE;
    }
    byte[] fp = new byte[n];
    b.get(fp);
    return fp;
  }

  private static long offset(long bucketStart, long millis) {
    long offset = millis - bucketStart;
    if (offset < 0 || offset > 0xFFFF_FFFFL) {
      throw new IllegalArgumentException(
          "record time " + millis + " is outside its bucket starting " + bucketStart);
    }
    return offset;
  }

  private static IllegalStateException unknown(long bucketStart, byte[] value) {
    return new IllegalStateException(
        "unknown record (kind " + (value.length == 0 ? "none" : value[0]) + ", "
            + value.length + " bytes) in bucket " + bucketStart
            + "; was this data directory written by a newer version?");
  }
}
