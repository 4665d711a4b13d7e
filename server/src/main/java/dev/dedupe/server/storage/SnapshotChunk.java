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

  /** The last chunk: how many keys the snapshot held, to check the copy against. */
  record End(long keys) implements SnapshotChunk {}
}
