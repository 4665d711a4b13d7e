package dev.dedupe.server.storage;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The keys of a shard's metadata and how their values are encoded. Format 2 keeps them in the
 * shard's {@code sNNNN.meta} column family; format 1 kept the same keys and values in the
 * default column family of the shard's own database, which is what the migration reads.
 */
final class ShardMetaKeys {

  /** The shard id (int, big-endian): a guard against data filed under the wrong shard. */
  static final byte[] SHARD_ID = "meta/shard-id".getBytes(StandardCharsets.UTF_8);
  /** The store's identity (UTF-8), made when the store was created and kept for life. */
  static final byte[] STORE_ID = "meta/store-id".getBytes(StandardCharsets.UTF_8);
  /** The end of the newest bucket dropped for the disk budget (long, big-endian millis). */
  static final byte[] BUDGET_HORIZON = "meta/budget-horizon-millis".getBytes(StandardCharsets.UTF_8);

  /** The shard's log position: epoch and seq of the last entry applied (two longs). */
  static final byte[] LOG_POSITION = "meta/log-position".getBytes(StandardCharsets.UTF_8);
  /** The epochs of the shard's log, each with its first seq (pairs of longs, in order). */
  static final byte[] EPOCH_HISTORY = "meta/epoch-history".getBytes(StandardCharsets.UTF_8);

  /**
   * An unfinished snapshot install's progress ({@link InstallStage}); present only while the
   * shard has no {@link #SHARD_ID}, and deleted by the write that completes the install.
   */
  static final byte[] INSTALL_STAGE = "meta/install-stage".getBytes(StandardCharsets.UTF_8);

  private ShardMetaKeys() {}

  static byte[] position(LogPosition p) {
    return ByteBuffer.allocate(2 * Long.BYTES).putLong(p.epoch()).putLong(p.seq()).array();
  }

  static LogPosition position(byte[] value) {
    if (value == null) {
      return LogPosition.EMPTY;
    }
    ByteBuffer b = ByteBuffer.wrap(value);
    return new LogPosition(b.getLong(), b.getLong());
  }

  static byte[] epochHistory(java.util.List<EpochStart> epochs) {
    ByteBuffer b = ByteBuffer.allocate(epochs.size() * 2 * Long.BYTES);
    for (EpochStart e : epochs) {
      b.putLong(e.epoch()).putLong(e.startSeq());
    }
    return b.array();
  }

  static java.util.List<EpochStart> epochHistory(byte[] value) {
    java.util.List<EpochStart> epochs = new java.util.ArrayList<>();
    if (value != null) {
      ByteBuffer b = ByteBuffer.wrap(value);
      while (b.remaining() >= 2 * Long.BYTES) {
        epochs.add(new EpochStart(b.getLong(), b.getLong()));
      }
    }
    return epochs;
  }

  static byte[] shardId(int shard) {
    return ByteBuffer.allocate(Integer.BYTES).putInt(shard).array();
  }

  static int shardId(byte[] value) {
    return ByteBuffer.wrap(value).getInt();
  }

  static byte[] millis(long millis) {
    return ByteBuffer.allocate(Long.BYTES).putLong(millis).array();
  }

  static long millis(byte[] value) {
    return value == null ? 0 : ByteBuffer.wrap(value).getLong();
  }

  static byte[] storeId(String storeId) {
    return storeId.getBytes(StandardCharsets.UTF_8);
  }

  static String storeId(byte[] value) {
    return new String(value, StandardCharsets.UTF_8);
  }
}
