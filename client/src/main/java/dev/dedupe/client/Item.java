package dev.dedupe.client;

import java.util.concurrent.CompletableFuture;

/**
 * One id on its way through the client: what was asked, and the future its answer completes.
 * Completed exactly once, by whichever thread handles the reply or the final failure.
 */
class Item<T> {

  final String id;
  final CompletableFuture<T> result = new CompletableFuture<>();

  Item(String id) {
    this.id = id;
  }

  /**
   * An id of a CheckAndInsert, with what the batch needs: the caller's fingerprint (empty for
   * none) and the caller it belongs to (identity only: a bad request is re-sent per caller).
   */
  static final class Entry extends Item<Decision> {
    final byte[] fingerprint;
    final Object caller;

    Entry(String id, byte[] fingerprint, Object caller) {
      super(id);
      this.fingerprint = fingerprint;
      this.caller = caller;
    }
  }

  /** An id of a lease operation; for Commit, with the result bytes to store. */
  static final class LeaseItem extends Item<java.time.Instant> {
    final byte[] commitResult;

    LeaseItem(String id, byte[] commitResult) {
      super(id);
      this.commitResult = commitResult;
    }
  }
}
