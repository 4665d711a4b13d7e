package dev.dedupe.server.storage;

import java.util.List;

/**
 * One piece of a shard snapshot as it travels from a leader to a follower that must replace
 * its copy: a header, data of one bucket at a time, and an end that says how many keys came.
 * Encoded by {@link SnapshotChunkCodec}.
 */
public sealed interface SnapshotChunk {

  /**
   * What the snapshot is of.
   *
   * @param position the log position the data is at
   * @param epochs the log's epochs up to it
   * @param buckets the bucket starts it holds
   * @param budgetHorizonMillis the shard's budget horizon
   */
  record Header(LogPosition position, List<EpochStart> epochs, List<Long> buckets,
      long budgetHorizonMillis) implements SnapshotChunk {
    public Header {
      epochs = List.copyOf(epochs);
      buckets = List.copyOf(buckets);
    }
  }

  /** Keys and values of one bucket, in key order, continuing the bucket's earlier chunks. */
  record Data(long bucketStart, List<byte[]> keys, List<byte[]> values) implements SnapshotChunk {
    public Data {
      if (keys.size() != values.size()) {
        throw new IllegalArgumentException(keys.size() + " keys but " + values.size() + " values");
      }
    }
  }

  /**
   * The last chunk: how many keys the snapshot held and the CRC32C of its data chunks
   * ({@link DataChecksum}), to check the copy against: a lost, repeated, reordered or altered
   * chunk fails the install instead of leaving a replica that differs from its leader.
   */
  record End(long keys, long checksum) implements SnapshotChunk {}

  /**
   * The CRC32C of a snapshot's data, fed each data chunk in order by sender and receiver. It is
   * the CRC32C of one stream of bytes (each chunk's bucket, then each key and value with its
   * length), computed chunk by chunk and joined ({@link Crc32cCombine}), so that a receiver
   * can save where it stands ({@link #value}, {@link #length}) and go on after a restart
   * ({@link #resumed}) with the same result as an uninterrupted one.
   */
  final class DataChecksum {
    private long value;
    private long length;
    private final java.util.zip.CRC32C chunk = new java.util.zip.CRC32C();
    private final java.nio.ByteBuffer number = java.nio.ByteBuffer.allocate(Long.BYTES);
    private long chunkLength;

    public DataChecksum() {}

    /** A checksum that has been fed {@code length} bytes whose CRC32C is {@code value}. */
    public static DataChecksum resumed(long value, long length) {
      if (length < 0) {
        throw new IllegalArgumentException("length " + length + " < 0");
      }
      DataChecksum c = new DataChecksum();
      c.value = value;
      c.length = length;
      return c;
    }

    /** Adds a chunk: its bucket, and each key and value with its length. */
    public void add(Data d) {
      chunk.reset();
      chunkLength = 0;
      update(d.bucketStart());
      for (int i = 0; i < d.keys().size(); i++) {
        update(d.keys().get(i).length);
        bytes(d.keys().get(i));
        update(d.values().get(i).length);
        bytes(d.values().get(i));
      }
      value = Crc32cCombine.combine(value, chunk.getValue(), chunkLength);
      length += chunkLength;
    }

    public long value() {
      return value;
    }

    /** Bytes fed so far. */
    public long length() {
      return length;
    }

    private void bytes(byte[] b) {
      chunk.update(b);
      chunkLength += b.length;
    }

    private void update(long v) {
      number.clear();
      number.putLong(v);
      bytes(number.array());
    }
  }
}
