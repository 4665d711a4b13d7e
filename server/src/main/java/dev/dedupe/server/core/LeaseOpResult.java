package dev.dedupe.server.core;

/**
 * The outcome of Commit, Release or ExtendLease for one id.
 *
 * @param ok whether it was done
 * @param failure why not, when not ok: the lease was lost
 * @param leaseExpiresMillis the new end of the lease, for a successful ExtendLease; 0 otherwise
 */
public record LeaseOpResult(boolean ok, String failure, long leaseExpiresMillis) {

  public static final LeaseOpResult DONE = new LeaseOpResult(true, "", 0);

  public static LeaseOpResult lost(String why) {
    return new LeaseOpResult(false, why, 0);
  }
}
