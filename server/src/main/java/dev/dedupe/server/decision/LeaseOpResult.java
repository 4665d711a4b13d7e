package dev.dedupe.server.decision;

/**
 * The outcome of Commit, Release or ExtendLease for one id.
 *
 * @param ok whether it was done
 * @param failure why not, when not ok: the lease was lost
 * @param leaseExpiresMillis the new end of the lease, for a successful ExtendLease; 0 otherwise
 * @param unhandled why this node did not handle the id, or null when it did
 */
public record LeaseOpResult(boolean ok, String failure, long leaseExpiresMillis, Unhandled unhandled) {

  public static final LeaseOpResult DONE = new LeaseOpResult(true, "", 0, null);

  public LeaseOpResult(boolean ok, String failure, long leaseExpiresMillis) {
    this(ok, failure, leaseExpiresMillis, null);
  }

  public static LeaseOpResult lost(String why) {
    return new LeaseOpResult(false, why, 0, null);
  }

  public static LeaseOpResult notHandled(Unhandled why) {
    return new LeaseOpResult(false, why.reason(), 0, why);
  }
}
