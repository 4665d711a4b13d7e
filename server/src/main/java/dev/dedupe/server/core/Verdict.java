package dev.dedupe.server.core;

/** The answer for one id; the API's {@code dedupe.v1.Verdict} without its unset value. */
public enum Verdict {
  /** Not recorded within the window; recorded now for this caller. */
  NEW,
  /** Recorded within the window; the caller skips its side effect. */
  DUPLICATE
}
