package dev.dedupe.server.storage;

/**
 * The value stored under an id's digest.
 *
 * <p>Layout v1 (5 bytes): {@code kind (1 byte) | offset (4 bytes, big-endian unsigned)}, where
 * offset is the milliseconds from the start of the record's bucket to when the id was recorded.
 * The bucket start is the column family's name, so the full timestamp costs 4 bytes instead of
 * 8; a bucket is at most 7 days wide, well under the 49 days that 32 bits of milliseconds hold.
 * The kind byte leaves room for richer records (leases, stored results) without a migration:
 * a reader that meets a kind it does not know fails loudly instead of guessing.
 */
final class RecordCodec {

  /** The id was recorded and its side effect may proceed: the plain CheckAndInsert record. */
  static final byte KIND_SEEN = 1;

  static final int V1_LENGTH = 5;

  private RecordCodec() {}

  static byte[] encodeSeen(long bucketStart, long firstSeenMillis) {
    long offset = firstSeenMillis - bucketStart;
    if (offset < 0 || offset > 0xFFFF_FFFFL) {
      throw new IllegalArgumentException(
          "record time " + firstSeenMillis + " is outside its bucket starting " + bucketStart);
    }
    return new byte[] {
      KIND_SEEN, (byte) (offset >>> 24), (byte) (offset >>> 16), (byte) (offset >>> 8), (byte) offset
    };
  }

  /** The time a stored value says its id was recorded. */
  static long decodeFirstSeen(long bucketStart, byte[] value) {
    if (value.length < V1_LENGTH || value[0] != KIND_SEEN) {
      throw new IllegalStateException(
          "unknown record (kind " + (value.length == 0 ? "none" : value[0]) + ", "
              + value.length + " bytes) in bucket " + bucketStart
              + "; was this data directory written by a newer version?");
    }
    long offset =
        ((value[1] & 0xFFL) << 24) | ((value[2] & 0xFFL) << 16) | ((value[3] & 0xFFL) << 8)
            | (value[4] & 0xFFL);
    return bucketStart + offset;
  }
}
