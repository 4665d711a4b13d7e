package dev.dedupe.server.cluster;

/**
 * The znode layout of one cluster, in one place (docs/design.md shows it):
 *
 * <pre>
 * /dedupe/&lt;cluster&gt;/
 *   config                 persistent  {"shards":N,"hash":"murmur3_x64_128-v1"}, fixed at creation
 *   nodes/&lt;node-id&gt;        ephemeral   {"grpc":"host:port","ops":"host:port","zone":"&lt;zone&gt;",
 *                                      "stores":{"&lt;shard&gt;":"&lt;store id&gt;",...}} (every replica
 *                                      the node has open, leader or follower)
 *   controller/latch       Curator LeaderLatch participants
 *   controller/epoch       persistent  its znode version is the controller epoch: every new
 *                                      controller bumps it (checking its own latch znode in the
 *                                      same transaction), every controller write checks it
 *   shards/&lt;NNNN&gt;          persistent  one per shard (4 digits): {"replicas":["n1","n2","n3"],
 *                                      "leader":"n1","epoch":7,"isr":{"n1":"&lt;store id&gt;",...}};
 *                                      written by the controller (fenced by its epoch) and by
 *                                      the shard's leader (its in-sync set), both at the
 *                                      version they read
 *   moves/m-&lt;10 digits&gt;     persistent  one per move job (id m-000012 for m-0000000012):
 *                                      {"kind":"MOVE","shard":3,"from":"n1","to":"n4",
 *                                      "phase":"CATCH_UP","state":"RUNNING","cancel":false,...};
 *                                      created (sequential) by any node's admin API, advanced
 *                                      only by the controller (fenced by its epoch, in one
 *                                      transaction with the shard's znode); the last 100
 *                                      finished jobs are kept
 *   throttle               persistent  {"bytes_per_second":N,"set_millis":ms}: the rate every
 *                                      node holds its snapshot copies to; set and cleared by any
 *                                      node's admin API, deleted by the controller (fenced) once
 *                                      the moves that finish after it was set are done
 *   copies/&lt;NNNN&gt;-&lt;node&gt;   ephemeral   {"shard":3,"follower":"n4","leader":"n1","bytes_copied":N,
 *                                      "bytes_total":N,"bytes_per_second":N,"lag_entries":N,...}:
 *                                      a leader's copy to a follower out of sync, written by
 *                                      the leader at most once a second, deleted when done
 *   plans/p-&lt;10 digits&gt;     persistent  one per plan (id p-000007 for p-0000000007): {"kind":"DRAIN",
 *                                      "node":"n2","maxConcurrent":2,"state":"RUNNING",
 *                                      "summary":{...},"steps":[...],...}; created (sequential)
 *                                      by any node's admin API (HEAL plans by the controller),
 *                                      advanced only by the controller (fenced by its epoch);
 *                                      the last 100 finished plans are kept
 *   drained/&lt;node-id&gt;      persistent  empty: the node gets no new replica or leadership;
 *                                      created by drain, deleted by undrain (admin API)
 *   decommissioned/&lt;node-id&gt; persistent  empty: the node may not register again; created by
 *                                      the controller (fenced) when a decommission plan ends
 * </pre>
 *
 * <p>Clusters formed before replication hold one {@code assignment} znode instead of
 * {@code shards}; the first controller that finds it migrates it ({@link AssignmentMigration}).
 */
public record ClusterPaths(String root) {

  public static ClusterPaths forCluster(String cluster) {
    return new ClusterPaths("/dedupe/" + cluster);
  }

  public String config() {
    return root + "/config";
  }

  public String nodes() {
    return root + "/nodes";
  }

  public String node(String nodeId) {
    return nodes() + "/" + nodeId;
  }

  public String controllerLatch() {
    return root + "/controller/latch";
  }

  public String controllerEpoch() {
    return root + "/controller/epoch";
  }

  /** The parent of every shard's state znode. */
  public String shards() {
    return root + "/shards";
  }

  /** One shard's state znode: its number in 4 digits, so that listings sort by shard. */
  public String shard(int shard) {
    return shards() + "/" + String.format("%04d", shard);
  }

  /** The shard number a child of {@link #shards()} names. */
  static int shardOf(String childName) {
    return Integer.parseInt(childName);
  }

  /** The parent of every move job's znode. */
  public String moves() {
    return root + "/moves";
  }

  /** Move job {@code id}'s znode ({@code m-000012} is {@code moves/m-0000000012}). */
  public String move(String id) {
    return moves() + "/" + dev.dedupe.server.moves.MoveIds.toZnodeName(id);
  }

  /** The cluster's copy throttle ({@code copy.Throttle}); absent when none is set. */
  public String throttle() {
    return root + "/throttle";
  }

  /** The parent of the copies leaders publish. */
  public String copies() {
    return root + "/copies";
  }

  /** The progress of the copy of {@code shard} to {@code follower}. */
  public String copy(int shard, String follower) {
    return copies() + "/" + String.format("%04d", shard) + "-" + follower;
  }

  /** The parent of every plan's znode. */
  public String plans() {
    return root + "/plans";
  }

  /** Plan {@code id}'s znode ({@code p-000007} is {@code plans/p-0000000007}). */
  public String plan(String id) {
    return plans() + "/" + dev.dedupe.server.moves.PlanIds.toZnodeName(id);
  }

  /** The parent of the drained nodes' marks. */
  public String drained() {
    return root + "/drained";
  }

  /** Node {@code nodeId}'s drain mark. */
  public String drained(String nodeId) {
    return drained() + "/" + nodeId;
  }

  /** The parent of the decommissioned nodes' marks. */
  public String decommissioned() {
    return root + "/decommissioned";
  }

  /** Node {@code nodeId}'s decommission mark. */
  public String decommissioned(String nodeId) {
    return decommissioned() + "/" + nodeId;
  }

  /** The single assignment of clusters formed before replication; only migration reads it. */
  public String oldAssignment() {
    return root + "/assignment";
  }
}
