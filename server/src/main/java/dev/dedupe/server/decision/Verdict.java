package dev.dedupe.server.decision;

/** The answer for one id; the API's {@code dedupe.v1.Verdict} without its unset value. */
public enum Verdict {
  /** Not recorded within the window; recorded now for this caller (or a replay of its token). */
  NEW,
  /** Recorded within the window; the caller skips its side effect. */
  DUPLICATE,
  /** Another attempt holds a live lease; the caller retries after the lease ends. */
  IN_PROGRESS,
  /** Recorded with a different payload fingerprint: the id was reused for another payload. */
  CONFLICT
}
