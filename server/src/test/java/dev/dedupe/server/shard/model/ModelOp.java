package dev.dedupe.server.shard.model;

import java.util.List;

/**
 * One request of a generated scenario, for one namespace. Ids, tokens, fingerprints and results
 * are short names ("a", "T1", "F1", "r1"); "" means none. Each toString reads like the call, so
 * a shrunk counterexample can be followed by eye.
 */
public sealed interface ModelOp {

  /** The ids of the request, in request order (an id may repeat). */
  List<String> ids();

  /**
   * @param fingerprints one per id ("" for none), or empty for a request without fingerprints
   */
  record CheckAndInsert(List<String> ids, String token, long leaseMillis, List<String> fingerprints)
      implements ModelOp {
    @Override
    public String toString() {
      return "CheckAndInsert" + ids + (token.isEmpty() ? "" : " token=" + token)
          + (leaseMillis == 0 ? "" : " lease=" + seconds(leaseMillis))
          + (fingerprints.isEmpty() ? "" : " fp=" + fingerprints);
    }
  }

  record Check(List<String> ids) implements ModelOp {
    @Override
    public String toString() {
      return "Check" + ids;
    }
  }

  record Forget(List<String> ids) implements ModelOp {
    @Override
    public String toString() {
      return "Forget" + ids;
    }
  }

  /** @param results one per id ("" for none), or empty to store none */
  record Commit(List<String> ids, String token, List<String> results) implements ModelOp {
    @Override
    public String toString() {
      return "Commit" + ids + " token=" + show(token) + (results.isEmpty() ? "" : " result=" + results);
    }
  }

  record Release(List<String> ids, String token) implements ModelOp {
    @Override
    public String toString() {
      return "Release" + ids + " token=" + show(token);
    }
  }

  record ExtendLease(List<String> ids, String token, long leaseMillis) implements ModelOp {
    @Override
    public String toString() {
      return "ExtendLease" + ids + " token=" + show(token) + " lease=" + seconds(leaseMillis);
    }
  }

  /** Milliseconds as seconds, for reading ("45s", "1.5s"). */
  static String seconds(long millis) {
    return millis % 1000 == 0 ? millis / 1000 + "s" : millis / 1000.0 + "s";
  }

  private static String show(String token) {
    return token.isEmpty() ? "(none)" : token;
  }
}
