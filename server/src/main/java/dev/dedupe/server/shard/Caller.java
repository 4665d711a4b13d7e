package dev.dedupe.server.shard;

/**
 * The party waiting for a request's answer. A writer asks just before it decides a round, and
 * skips the work of a caller that has given up (its deadline passed, or it cancelled): such a
 * caller's call has already failed, so ids recorded for it would be DUPLICATE to everyone and
 * NEW to no one, and their message would never be processed.
 */
@FunctionalInterface
public interface Caller {

  /** A caller that always waits: in-process use and tests. */
  Caller WAITING = () -> false;

  /** True once nobody will read the answer. Called on the writer thread; must be cheap. */
  boolean hasGivenUp();
}
