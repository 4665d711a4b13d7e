package dev.dedupe.loadbench;

/**
 * What one measurement of the {@code --vs-redis} suite drives: the dedupe node, or Redis with
 * one {@code appendfsync} setting (the suite switches a private Redis between them with
 * CONFIG SET).
 *
 * @param name the short name in progress lines and result.json: dedupe, redis-always, ...
 * @param label the name in the table: "dedupe", "Redis always"
 * @param appendfsync Redis's appendfsync while measured (always, everysec, or the external
 *     server's own setting), or null for dedupe
 */
record SuiteTarget(String name, String label, String appendfsync) {

  static final SuiteTarget DEDUPE = new SuiteTarget("dedupe", "dedupe", null);

  static SuiteTarget redis(String appendfsync) {
    return new SuiteTarget("redis-" + appendfsync, "Redis " + appendfsync, appendfsync);
  }

  boolean isRedis() {
    return appendfsync != null;
  }
}
