package dev.dedupe.server.shard.model;

import dev.dedupe.server.storage.Holding;
import dev.dedupe.server.storage.ShardStore;
import dev.dedupe.server.storage.ShardWrite;
import java.util.List;
import java.util.Map;

/**
 * A real shard store handed to a writer whose close must not close it: every call goes straight
 * to the store, except close, which does nothing. It lets a scenario start with a new writer
 * (whose clock has not seen a later time) over the same open RocksDB, because a real reopen
 * costs a memtable flush per bucket. Not a mock: the store does all the work.
 */
final class KeptOpenStore implements ShardStore {

  private final ShardStore store;

  KeptOpenStore(ShardStore store) {
    this.store = store;
  }

  @Override
  public int shardId() {
    return store.shardId();
  }

  @Override
  public String storeId() {
    return store.storeId();
  }

  @Override
  public List<Long> bucketStarts() {
    return store.bucketStarts();
  }

  @Override
  public void ensureBucket(long start) {
    store.ensureBucket(start);
  }

  @Override
  public void dropBucket(long start) {
    store.dropBucket(start);
  }

  @Override
  public Holding[][] lookup(List<byte[]> digests, long sinceMillis) {
    return store.lookup(digests, sinceMillis);
  }

  @Override
  public void write(ShardWrite write) {
    store.write(write);
  }

  @Override
  public Map<String, Long> namespaceKeyCounts() {
    return store.namespaceKeyCounts();
  }

  @Override
  public long diskBytes() {
    return store.diskBytes();
  }

  @Override
  public long budgetHorizonMillis() {
    return store.budgetHorizonMillis();
  }

  @Override
  public void advanceBudgetHorizon(long millis) {
    store.advanceBudgetHorizon(millis);
  }

  @Override
  public long longProperty(String property) {
    return store.longProperty(property);
  }

  /** Leaves the store open: {@link ShardUnderTest} closes it. */
  @Override
  public dev.dedupe.server.storage.LogPosition position() {
    return store.position();
  }

  @Override
  public List<dev.dedupe.server.storage.EpochStart> epochHistory() {
    return store.epochHistory();
  }

  @Override
  public dev.dedupe.server.storage.LogEntry prepare(ShardWrite write, long epoch, long seq) {
    return store.prepare(write, epoch, seq);
  }

  @Override
  public void apply(dev.dedupe.server.storage.LogEntry entry) {
    store.apply(entry);
  }

  @Override
  public void applyWithoutSync(dev.dedupe.server.storage.LogEntry entry) {
    store.applyWithoutSync(entry);
  }

  @Override
  public dev.dedupe.server.storage.ShardSnapshot openSnapshot() {
    return store.openSnapshot();
  }

  @Override
  public void close() {}
}
