package dev.dedupe.server.shard.model;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The reference model of one namespace's records: the record state machine of docs/design.md
 * ("State machines"), applied one request at a time, written from the documented rules and
 * nothing else (it does not call the production RecordRules).
 *
 * <p>It keeps each id's records per time bucket, as the store does, because keys_held counts
 * records on disk: a record past its window stays held until its bucket is dropped. Answers are
 * rendered by {@link Answers}, so that model and production compare as text.
 */
public final class RecordModel {

  /** A record as documented: COMMITTED or IN_PROGRESS, with its token, fingerprint, result. */
  private record Rec(
      boolean leased, long firstSeen, String token, long leaseEnd, String fingerprint,
      String result) {

    boolean leaseLiveAt(long now) {
      return leased && leaseEnd > now;
    }

    boolean ownedBy(String attempt) {
      return !attempt.isEmpty() && attempt.equals(token);
    }
  }

  private final long windowMillis;
  private final long bucketMillis;
  private final Answers answers;
  /** Id to its records by bucket start. */
  private final Map<String, TreeMap<Long, Rec>> records = new HashMap<>();

  public RecordModel(long windowMillis, long bucketMillis, Answers answers) {
    this.windowMillis = windowMillis;
    this.bucketMillis = bucketMillis;
    this.answers = answers;
  }

  /** Applies one request at {@code now}: its answer per id, in request order. */
  public List<String> apply(ModelOp op, long now) {
    return switch (op) {
      case ModelOp.CheckAndInsert c -> checkAndInsert(c, now);
      case ModelOp.Check c -> c.ids().stream().map(id -> check(id, now)).toList();
      case ModelOp.Forget f -> f.ids().stream().map(id -> forget(id, now)).toList();
      case ModelOp.Commit c -> {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < c.ids().size(); i++) {
          out.add(commit(c.ids().get(i), c.token(), c.results().isEmpty() ? "" : c.results().get(i), now));
        }
        yield out;
      }
      case ModelOp.Release r -> r.ids().stream().map(id -> release(id, r.token(), now)).toList();
      case ModelOp.ExtendLease e ->
          e.ids().stream().map(id -> extend(id, e.token(), e.leaseMillis(), now)).toList();
    };
  }

  /** Records held on disk for the namespace, in every bucket (what keys_held counts). */
  public long recordsHeld() {
    return records.values().stream().mapToLong(Map::size).sum();
  }

  /**
   * The record that decides: the one first seen within the window. The docs promise at most one
   * per id ("An id has at most one record within its window"); more is a model failure.
   */
  private Map.Entry<Long, Rec> visible(String id, long now) {
    Map.Entry<Long, Rec> found = null;
    for (Map.Entry<Long, Rec> e : records.getOrDefault(id, new TreeMap<>()).entrySet()) {
      if (e.getValue().firstSeen() > now - windowMillis) {
        if (found != null) {
          throw new IllegalStateException("model: two records of " + id + " within the window");
        }
        found = e;
      }
    }
    return found;
  }

  private List<String> checkAndInsert(ModelOp.CheckAndInsert op, long now) {
    Set<String> recordedHere = new HashSet<>();
    List<String> out = new ArrayList<>();
    for (int i = 0; i < op.ids().size(); i++) {
      String id = op.ids().get(i);
      String fp = op.fingerprints().isEmpty() ? "" : op.fingerprints().get(i);
      Map.Entry<Long, Rec> held = visible(id, now);
      Rec v = held == null ? null : held.getValue();
      if (v != null) {
        // Conflict: both sides have a fingerprint and they differ, even for the recording token.
        if (!fp.isEmpty() && !v.fingerprint().isEmpty() && !fp.equals(v.fingerprint())) {
          out.add(answers.conflict(v.firstSeen()));
          continue;
        }
        // An id repeated within one request is NEW only at its first position.
        if (recordedHere.contains(id)) {
          out.add(answers.duplicate(v.firstSeen(), v.result()));
          continue;
        }
        // Replay: the recording token hears NEW again; a leased id's lease is renewed to at
        // least the requested length.
        if (v.ownedBy(op.token())) {
          recordedHere.add(id);
          Rec mine = v;
          if (v.leased() && op.leaseMillis() > 0) {
            mine = withLease(v, Math.max(v.leaseEnd(), now + op.leaseMillis()));
            records.get(id).put(held.getKey(), mine);
          }
          out.add(answers.newReplay(mine.firstSeen(), mine.leased() ? mine.leaseEnd() : 0));
          continue;
        }
        if (v.leaseLiveAt(now)) {
          out.add(answers.inProgress(v.firstSeen(), v.leaseEnd()));
          continue;
        }
        if (!v.leased()) {
          out.add(answers.duplicate(v.firstSeen(), v.result()));
          continue;
        }
        // The lease ran out: this caller takes the id over, and the old record goes.
        records.get(id).remove(held.getKey());
      }
      Rec fresh = op.leaseMillis() > 0
          ? new Rec(true, now, op.token(), now + op.leaseMillis(), fp, "")
          : new Rec(false, now, op.token(), 0, fp, "");
      // Records go into the current bucket (replacing whatever that bucket held for the id).
      records.computeIfAbsent(id, k -> new TreeMap<>()).put(bucketOf(now), fresh);
      recordedHere.add(id);
      out.add(answers.fresh(now, fresh.leased() ? fresh.leaseEnd() : 0));
    }
    return out;
  }

  /** What CheckAndInsert without a token would answer, recording nothing. */
  private String check(String id, long now) {
    Map.Entry<Long, Rec> held = visible(id, now);
    if (held == null || (held.getValue().leased() && !held.getValue().leaseLiveAt(now))) {
      return answers.notRecorded();
    }
    Rec v = held.getValue();
    return v.leased() ? answers.inProgress(v.firstSeen(), v.leaseEnd())
        : answers.duplicate(v.firstSeen(), v.result());
  }

  /** Forget removes the id's records in every bucket; it reports whether one was in the window. */
  private String forget(String id, long now) {
    boolean wasVisible = visible(id, now) != null;
    records.remove(id);
    return answers.forgot(wasVisible);
  }

  private String commit(String id, String token, String result, long now) {
    Map.Entry<Long, Rec> held = visible(id, now);
    if (held == null || !held.getValue().ownedBy(token)) {
      return answers.lost();
    }
    Rec v = held.getValue();
    if (v.leased()) {
      // Also after the lease ran out, while no one took the id over.
      records.get(id).put(held.getKey(), new Rec(false, v.firstSeen(), v.token(), 0, v.fingerprint(), result));
    }
    // A retried Commit by the committing token is OK and keeps the first result.
    return answers.done(0);
  }

  private String release(String id, String token, long now) {
    Map.Entry<Long, Rec> held = visible(id, now);
    if (held == null) {
      return answers.done(0); // a retried Release finds nothing held, and that is OK
    }
    Rec v = held.getValue();
    if (!v.ownedBy(token) || !v.leased()) {
      return answers.lost();
    }
    records.get(id).remove(held.getKey());
    return answers.done(0);
  }

  private String extend(String id, String token, long leaseMillis, long now) {
    Map.Entry<Long, Rec> held = visible(id, now);
    if (held == null || !held.getValue().ownedBy(token) || !held.getValue().leased()) {
      return answers.lost();
    }
    Rec extended = withLease(held.getValue(), now + leaseMillis);
    records.get(id).put(held.getKey(), extended);
    return answers.done(extended.leaseEnd());
  }

  private static Rec withLease(Rec r, long end) {
    return new Rec(true, r.firstSeen(), r.token(), end, r.fingerprint(), r.result());
  }

  private long bucketOf(long now) {
    return Math.floorDiv(now, bucketMillis) * bucketMillis;
  }
}
