package dev.dedupe.server.storage;

import dev.dedupe.contract.ShardHash;
import dev.dedupe.server.config.Durability;
import dev.dedupe.server.config.StorageConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.UUID;
import org.rocksdb.FlushOptions;

/**
 * Measures the table-file bytes a stored id costs, for docs/capacity.md: N ids with 36-byte
 * UUIDs, written to one bucket as the write path writes them, flushed (LZ4, level 0), then
 * compacted to the bottom level (ZSTD), for three kinds of record: a plain one (no token), one
 * with a 36-byte attempt token and a 32-byte fingerprint, and a committed one with those and a
 * 64-byte result. An id is stored as its 16-byte digest, so its length does not matter. Not a
 * test; docs/capacity.md gives the command.
 */
public final class BytesPerIdMeasurement {

  public static void main(String[] args) throws Exception {
    int ids = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    Path root = Files.createTempDirectory("bytes-per-id");
    StorageConfig config = new StorageConfig(root, 1, Durability.RISK_POWER_LOSS,
        Duration.ofHours(6), 0, 64L << 20, 64L << 20, Duration.ofSeconds(10));
    Random random = new Random(1);
    byte[] fingerprint = new byte[32];
    byte[] result = new byte[64];
    try (StorageResources resources = new StorageResources(config)) {
      BucketGrid grid = new BucketGrid(Duration.ofHours(6));
      System.out.printf("ids: %,d (36-byte UUIDs)%n", ids);
      for (String kind : new String[] {"plain", "token+fingerprint", "token+fingerprint+result"}) {
        Path dir = root.resolve(kind.replace('+', '-'));
        try (NodeStore node = NodeStore.open(DataDirectory.openOrCreate(dir, 1), resources);
            RocksShardStore store = node.openShard(0, grid)) {
          long bucket = 0;
          store.ensureBucket(bucket);
          for (int from = 0; from < ids; from += 10_000) {
            ShardWrite write = new ShardWrite();
            for (int i = from; i < Math.min(ids, from + 10_000); i++) {
              String id = new UUID(random.nextLong(), random.nextLong()).toString();
              StoredRecord record = switch (kind) {
                case "plain" -> StoredRecord.committed(bucket + i, "", StoredRecord.NONE);
                case "token+fingerprint" -> {
                  random.nextBytes(fingerprint);
                  yield StoredRecord.committed(bucket + i, UUID.randomUUID().toString(),
                      fingerprint.clone());
                }
                default -> {
                  random.nextBytes(fingerprint);
                  random.nextBytes(result);
                  yield StoredRecord.committed(bucket + i, UUID.randomUUID().toString(),
                      fingerprint.clone()).commit(result.clone());
                }
              };
              write.put(ShardHash.digest("ns", id), "ns", bucket, record, true);
            }
            store.write(write);
          }
          try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
            store.rawDbForMeasurement().flush(flush, store.rawBucketForMeasurement(bucket));
          }
          long flushed = store.diskBytes();
          store.rawDbForMeasurement().compactRange(store.rawBucketForMeasurement(bucket));
          long compacted = store.diskBytes();
          System.out.printf("%-26s flushed (LZ4): %,d bytes, %.1f per id; compacted (ZSTD): %,d"
              + " bytes, %.1f per id%n", kind, flushed, flushed / (double) ids, compacted,
              compacted / (double) ids);
        }
      }
    }
    System.out.println("(data left in " + root + ")");
  }
}
