package dev.dedupe.server.cluster;

/**
 * The znode layout of one cluster, in one place (docs/design.md shows it):
 *
 * <pre>
 * /dedupe/&lt;cluster&gt;/
 *   config                 persistent  {"shards":N,"hash":"murmur3_x64_128-v1"}, fixed at creation
 *   nodes/&lt;node-id&gt;        ephemeral   {"grpc":"host:port","ops":"host:port",
 *                                      "stores":{"&lt;shard&gt;":"&lt;store id&gt;",...}}
 *   controller/latch       Curator LeaderLatch participants
 *   controller/epoch       persistent  its znode version is the controller epoch: every new
 *                                      controller bumps it (checking its own latch znode in the
 *                                      same transaction), every assignment write checks it
 *   assignment             persistent  {"shards":[{"shard":0,"owner":"node-a","epoch":1,
 *                                      "store":"&lt;store id, or empty until recorded&gt;"},...]}
 * </pre>
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

  public String assignment() {
    return root + "/assignment";
  }
}
