package dev.dedupe.server.rpc;

import dev.dedupe.server.decision.Unhandled;
import java.util.ArrayList;
import java.util.List;

/**
 * A request's ids by where they go: the ones this node hands its engine (its own shards, and
 * those it cannot forward, which the engine answers UNAVAILABLE per id), and one part per
 * owner address to forward. Positions are indices into the request's ids, in request order.
 */
final class IdSplit {

  /**
   * The ids of one request that go to the node at {@code address}.
   *
   * @param why per position, what this node would answer the id without forwarding: the
   *     answer when the forward fails
   */
  record OwnerPart(String address, int[] positions, List<Unhandled> why) {}

  private final int total;
  /** null when every id is local: the common case, in which nothing is copied. */
  private final int[] local;
  private final List<OwnerPart> owners;

  private IdSplit(int total, int[] local, List<OwnerPart> owners) {
    this.total = total;
    this.local = local;
    this.owners = owners;
  }

  static IdSplit allLocal(int total) {
    return new IdSplit(total, null, List.of());
  }

  static IdSplit of(int total, int[] local, List<OwnerPart> owners) {
    return owners.isEmpty() ? allLocal(total) : new IdSplit(total, local, owners);
  }

  int total() {
    return total;
  }

  boolean isAllLocal() {
    return local == null;
  }

  List<OwnerPart> owners() {
    return owners;
  }

  /** The positions of the local ids. */
  int[] localPositions() {
    if (local != null) {
      return local;
    }
    int[] all = new int[total];
    for (int i = 0; i < total; i++) {
      all[i] = i;
    }
    return all;
  }

  /** The local ids' entries of a per-id list (ids, fingerprints, results); empty stays empty. */
  <T> List<T> local(List<T> perId) {
    return local == null ? perId : pick(perId, local);
  }

  /** The entries of {@code perId} at {@code positions}, in that order; empty stays empty. */
  static <T> List<T> pick(List<T> perId, int[] positions) {
    if (perId.isEmpty()) {
      return perId;
    }
    List<T> part = new ArrayList<>(positions.length);
    for (int p : positions) {
      part.add(perId.get(p));
    }
    return part;
  }
}
