package dev.dedupe.loadbench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One workload of the {@code --vs-redis} suite (issue 10's method): how many ids go in one
 * call, how many callers (or calls in flight) there are, and the share of repeats.
 *
 * <p>For dedupe, a call is one CheckAndInsert and the callers are calls in flight on one gRPC
 * connection (HTTP/2 multiplexes them). For Redis, a call is a pipeline of {@code idsPerCall}
 * {@code SET NX EX} commands and each caller has a connection of its own (RESP cannot
 * multiplex). The client workload runs against dedupe only: it measures the Java client's
 * gathering of concurrent single-id calls into batches.
 *
 * @param name what {@code --workloads} calls it
 * @param description one line for the help, the table's legend and the progress lines
 * @param idsPerCall ids per request (per pipeline for Redis)
 * @param callers concurrent callers: requests in flight, Redis connections, client threads
 * @param repeats the share of ids that repeat an id sent earlier in the same measurement
 * @param viaClient true when threads call {@code DedupeClient.checkAndInsert} one id at a time
 */
record SuiteWorkload(
    String name, String description, int idsPerCall, int callers, double repeats,
    boolean viaClient) {

  /** The raw single-id workload that the client workload is compared with. */
  static final String RAW_SINGLE_16 = "single-16";

  /** Every workload, in the order the suite runs them and the table lists them. */
  static final List<SuiteWorkload> ALL = List.of(
      new SuiteWorkload("single-1", "one id per call, 1 caller, 1% repeats", 1, 1, 0.01, false),
      new SuiteWorkload(RAW_SINGLE_16, "one id per call, 16 callers, 1% repeats", 1, 16, 0.01,
          false),
      new SuiteWorkload("batch-1pct", "batches of 1,000 ids, 4 in flight, 1% repeats", 1000, 4,
          0.01, false),
      new SuiteWorkload("batch-50pct", "batches of 1,000 ids, 4 in flight, 50% repeats", 1000, 4,
          0.5, false),
      new SuiteWorkload("client-16", "16 threads call the Java client's checkAndInsert with one"
          + " id each, 1% repeats (dedupe only)", 1, 16, 0.01, true));

  /**
   * The workloads --replication may run: the raw ones ({@link #viaClient} makes no sense there,
   * since that suite drives every dedupe target through the Java client).
   */
  static final List<SuiteWorkload> REPLICATION =
      ALL.stream().filter(w -> !w.viaClient()).toList();

  /** Those --replication runs unless --workloads says otherwise. */
  static final List<SuiteWorkload> REPLICATION_DEFAULT =
      REPLICATION.stream().filter(w -> w.callers() > 1).toList();

  /** The names, comma-separated, as --workloads takes them. */
  static String names() {
    return names(ALL);
  }

  static String names(List<SuiteWorkload> among) {
    return String.join(",", among.stream().map(SuiteWorkload::name).toList());
  }

  /**
   * Parses "single-1,batch-50pct" (any order, run in the order of {@link #ALL}).
   *
   * @throws IllegalArgumentException naming the unknown or repeated name, or an empty list
   */
  static List<SuiteWorkload> parse(String list) {
    return parse(list, ALL);
  }

  /**
   * Parses as {@link #parse(String)}, among {@code among} only.
   *
   * @throws IllegalArgumentException naming the unknown or repeated name, or an empty list
   */
  static List<SuiteWorkload> parse(String list, List<SuiteWorkload> among) {
    List<String> asked = new ArrayList<>();
    for (String part : list.split(",")) {
      String name = part.trim().toLowerCase(Locale.ROOT);
      if (name.isEmpty()) {
        continue;
      }
      if (among.stream().noneMatch(w -> w.name().equals(name))) {
        throw new IllegalArgumentException("'" + part.trim() + "' is no workload"
            + (ALL.stream().anyMatch(w -> w.name().equals(name)) ? " of this suite" : "")
            + "; there are " + names(among));
      }
      if (asked.contains(name)) {
        throw new IllegalArgumentException("'" + name + "' is named twice");
      }
      asked.add(name);
    }
    if (asked.isEmpty()) {
      throw new IllegalArgumentException("names no workload; there are " + names(among));
    }
    return among.stream().filter(w -> asked.contains(w.name())).toList();
  }
}
