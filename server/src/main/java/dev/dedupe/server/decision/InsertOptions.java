package dev.dedupe.server.decision;

import java.util.List;

/**
 * What a CheckAndInsert asks for besides the ids.
 *
 * @param attemptToken the caller's attempt token, or "" for none
 * @param leaseMillis the lease to take on new ids, or 0 to record them as done
 * @param fingerprints one per id (an empty array for none), or an empty list for none at all
 */
public record InsertOptions(String attemptToken, long leaseMillis, List<byte[]> fingerprints) {

  public static final InsertOptions PLAIN = new InsertOptions("", 0, List.of());
}
