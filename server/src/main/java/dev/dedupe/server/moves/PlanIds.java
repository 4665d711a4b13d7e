package dev.dedupe.server.moves;

/**
 * Plan ids: {@code p-000007} for the plan whose znode ZooKeeper numbered 7 ({@code p-0000000007}),
 * as {@link MoveIds} does for jobs.
 */
public final class PlanIds {

  /** The prefix of a plan znode's name, to which ZooKeeper appends the sequence. */
  public static final String ZNODE_PREFIX = "p-";

  private PlanIds() {}

  /** The id of the plan whose znode is named {@code znodeName} ({@code p-0000000007}). */
  public static String fromZnodeName(String znodeName) {
    return "p-" + String.format("%06d", sequence(znodeName));
  }

  /** The znode name of plan {@code id}. */
  public static String toZnodeName(String id) {
    return ZNODE_PREFIX + String.format("%010d", sequence(id));
  }

  /** Whether {@code id} is a plan id (p- then digits). */
  public static boolean valid(String id) {
    return id != null && id.matches("p-\\d{1,10}");
  }

  /** The number in an id or a znode name. */
  public static long sequence(String idOrName) {
    if (!valid(idOrName)) {
      throw new IllegalArgumentException("not a plan id (p-NNNNNN): '" + idOrName + "'");
    }
    return Long.parseLong(idOrName.substring(2));
  }
}
