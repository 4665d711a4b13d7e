package dev.dedupe.server.moves;

/**
 * Job ids: {@code m-000012} for the job whose znode ZooKeeper numbered 12. ZooKeeper's
 * sequential names carry ten digits ({@code m-0000000012}); people read and type six, and a
 * cluster that ran more than a million moves still gets distinct ids (they grow a digit).
 */
public final class MoveIds {

  /** The prefix of a job znode's name, to which ZooKeeper appends the sequence. */
  public static final String ZNODE_PREFIX = "m-";

  private MoveIds() {}

  /** The id of the job whose znode is named {@code znodeName} ({@code m-0000000012}). */
  public static String fromZnodeName(String znodeName) {
    return "m-" + String.format("%06d", sequence(znodeName));
  }

  /** The znode name of job {@code id}. */
  public static String toZnodeName(String id) {
    return ZNODE_PREFIX + String.format("%010d", sequence(id));
  }

  /** Whether {@code id} is a job id (m- then digits). */
  public static boolean valid(String id) {
    return id != null && id.matches("m-\\d{1,10}");
  }

  /** The number in an id or a znode name. */
  public static long sequence(String idOrName) {
    if (!valid(idOrName)) {
      throw new IllegalArgumentException("not a move id (m-NNNNNN): '" + idOrName + "'");
    }
    return Long.parseLong(idOrName.substring(2));
  }
}
