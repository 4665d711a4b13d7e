package dev.dedupe.server.shard;

import dev.dedupe.server.decision.IdResult;
import dev.dedupe.server.decision.LeaseOpResult;
import dev.dedupe.server.decision.Verdict;
import dev.dedupe.server.storage.StoredRecord;
import java.time.Instant;
import java.util.Arrays;

/**
 * The rules that decide one id against its record, for each operation: the record state
 * machine of docs/design.md in code. Each rule reads the id's visible record (the one within
 * the namespace's window, or null), makes its writes through the {@link Round}, and returns
 * the answer. Called only on a shard's writer thread.
 */
final class RecordRules {

  private RecordRules() {}

  /** CheckAndInsert: NEW, NEW replay, DUPLICATE, IN_PROGRESS or CONFLICT. */
  static IdResult checkAndInsert(
      Round round, Object request, String namespace, String token, long leaseMillis,
      byte[] fingerprint, byte[] digest, KeyState key, StoredRecord visible) {
    long now = round.now;
    if (visible != null) {
      if (fingerprint.length > 0 && visible.fingerprint().length > 0
          && !Arrays.equals(fingerprint, visible.fingerprint())) {
        return new IdResult(Verdict.CONFLICT, visible.firstSeenMillis(), false, 0, ShardWriter.NO_BYTES);
      }
      if (key.recordedBy == request) {
        // The same id earlier in this request: NEW at its first position, DUPLICATE after. A
        // DUPLICATE carries the stored result, as every DUPLICATE does (a replayed committed id).
        return new IdResult(Verdict.DUPLICATE, visible.firstSeenMillis(), false, 0, visible.result());
      }
      if (visible.ownedBy(token)) {
        // A retry of the attempt that recorded the id: NEW again, never DUPLICATE.
        key.recordedBy = request;
        StoredRecord mine = visible;
        if (mine.state() == StoredRecord.State.IN_PROGRESS && leaseMillis > 0) {
          mine = mine.withLeaseUntil(Math.max(mine.leaseExpiresMillis(), now + leaseMillis));
          round.update(digest, namespace, key, mine);
        }
        return new IdResult(Verdict.NEW, mine.firstSeenMillis(), true,
            mine.state() == StoredRecord.State.IN_PROGRESS ? mine.leaseExpiresMillis() : 0, ShardWriter.NO_BYTES);
      }
      if (visible.leaseLiveAt(now)) {
        return new IdResult(Verdict.IN_PROGRESS, visible.firstSeenMillis(), false,
            visible.leaseExpiresMillis(), ShardWriter.NO_BYTES);
      }
      if (visible.state() == StoredRecord.State.COMMITTED) {
        return new IdResult(Verdict.DUPLICATE, visible.firstSeenMillis(), false, 0, visible.result());
      }
      // An expired lease: the holder lost it, and this caller takes the id over.
    }
    StoredRecord record = leaseMillis > 0
        ? StoredRecord.leased(now, token, now + leaseMillis, fingerprint)
        : StoredRecord.committed(now, token, fingerprint);
    round.record(digest, namespace, key, record, visible != null);
    key.recordedBy = request;
    return new IdResult(Verdict.NEW, now, false, record.leaseExpiresMillis(), ShardWriter.NO_BYTES);
  }

  /** Check: what CheckAndInsert without a token would answer. */
  static IdResult check(long now, StoredRecord visible) {
    if (visible == null
        || (visible.state() == StoredRecord.State.IN_PROGRESS && !visible.leaseLiveAt(now))) {
      return new IdResult(Verdict.NEW, IdResult.NOT_RECORDED, false, 0, ShardWriter.NO_BYTES);
    }
    if (visible.state() == StoredRecord.State.IN_PROGRESS) {
      return new IdResult(Verdict.IN_PROGRESS, visible.firstSeenMillis(), false,
          visible.leaseExpiresMillis(), ShardWriter.NO_BYTES);
    }
    return new IdResult(Verdict.DUPLICATE, visible.firstSeenMillis(), false, 0, visible.result());
  }

  /** Commit: done for the holding token (idempotent), lost for any other. */
  static LeaseOpResult commit(
      Round round, String namespace, String token, byte[] result, byte[] digest, KeyState key,
      StoredRecord visible) {
    String lost = leaseLost(token, visible, round.now);
    if (lost != null) {
      return LeaseOpResult.lost(lost);
    }
    if (visible.state() == StoredRecord.State.IN_PROGRESS) {
      round.update(digest, namespace, key, visible.commit(result));
    }
    // Already committed by this token: a retried Commit is done, and keeps the first result.
    return LeaseOpResult.DONE;
  }

  /** Release: removes the holding token's lease; nothing held is done already. */
  static LeaseOpResult release(
      Round round, String namespace, String token, byte[] digest, KeyState key,
      StoredRecord visible) {
    if (visible == null) {
      // Nothing is held: a retried Release finds its work done.
      return LeaseOpResult.DONE;
    }
    String lost = leaseLost(token, visible, round.now);
    if (lost != null) {
      return LeaseOpResult.lost(lost);
    }
    if (visible.state() == StoredRecord.State.COMMITTED) {
      return LeaseOpResult.lost("the id is committed; Release only gives up a lease (Forget removes"
          + " a committed id)");
    }
    round.removeNewest(digest, namespace, key);
    return LeaseOpResult.DONE;
  }

  /** ExtendLease: moves the holding token's lease end to now plus {@code leaseMillis}. */
  static LeaseOpResult extend(
      Round round, String namespace, String token, long leaseMillis, byte[] digest, KeyState key,
      StoredRecord visible) {
    String lost = leaseLost(token, visible, round.now);
    if (lost != null) {
      return LeaseOpResult.lost(lost);
    }
    if (visible.state() == StoredRecord.State.COMMITTED) {
      return LeaseOpResult.lost("the id is already committed; there is no lease to extend");
    }
    StoredRecord extended = visible.withLeaseUntil(round.now + leaseMillis);
    round.update(digest, namespace, key, extended);
    return new LeaseOpResult(true, "", extended.leaseExpiresMillis());
  }

  /**
   * Why {@code token} does not hold the id, or null if it does. A lease that ran out still
   * belongs to its token until another attempt takes the id over; then it is lost for good.
   */
  private static String leaseLost(String token, StoredRecord visible, long now) {
    if (visible == null) {
      return "lease lost: the id is not held (it was released, forgotten or never leased, or"
          + " its window passed)";
    }
    if (!visible.ownedBy(token)) {
      return visible.leaseLiveAt(now)
          ? "lease lost: another attempt holds the id until "
              + Instant.ofEpochMilli(visible.leaseExpiresMillis())
          : "lease lost: another attempt recorded the id at "
              + Instant.ofEpochMilli(visible.firstSeenMillis());
    }
    return null;
  }
}
