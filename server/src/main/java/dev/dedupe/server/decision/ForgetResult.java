package dev.dedupe.server.decision;

/**
 * The outcome of Forget for one id.
 *
 * @param removed whether a record within the window was held and is now removed
 * @param unhandled why this node did not handle the id, or null when it did
 */
public record ForgetResult(boolean removed, Unhandled unhandled) {

  public static final ForgetResult REMOVED = new ForgetResult(true, null);
  public static final ForgetResult NOT_HELD = new ForgetResult(false, null);
}
