package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.client.Item.Entry;
import dev.dedupe.contract.ShardHash;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.ShardOwner;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ids go to the node that owns their shard, per GetShardMap. */
class RoutingTest {

  private static final int SHARDS = 4;

  /** A map of {@code shards} shards: even ones at node-a, odd ones at node-b. */
  private static GetShardMapResponse twoNodes(int shards, String hash) {
    GetShardMapResponse.Builder map =
        GetShardMapResponse.newBuilder().setShardCount(shards).setHash(hash);
    for (int s = 0; s < shards; s++) {
      map.addOwners(ShardOwner.newBuilder().setShard(s).setAddress(s % 2 == 0 ? "node-a:1" : "node-b:1"));
    }
    return map.build();
  }

  @Test
  void groupsIdsByTheOwnerOfTheirShardKeepingRequestOrder() {
    ShardRouter.Table table = ShardRouter.Table.fromProto(twoNodes(8, ShardRouter.HASH_NAME), "seed:1");
    List<Entry> entries = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      entries.add(new Entry("id-" + i, new byte[0], this));
    }
    Map<String, List<Entry>> groups = ShardRouter.group(table, "orders", entries);
    assertEquals(List.of("node-a:1", "node-b:1"), List.copyOf(groups.keySet()).stream().sorted().toList());
    int total = 0;
    for (Map.Entry<String, List<Entry>> group : groups.entrySet()) {
      int last = -1;
      for (Entry e : group.getValue()) {
        int shard = ShardHash.shardOf("orders", e.id, 8);
        assertEquals(shard % 2 == 0 ? "node-a:1" : "node-b:1", group.getKey(), e.id);
        int index = Integer.parseInt(e.id.substring(3));
        assertTrue(index > last, "request order lost within a group");
        last = index;
      }
      total += group.getValue().size();
      assertTrue(group.getValue().size() > 300, "suspiciously uneven: " + group.getValue().size());
    }
    assertEquals(1000, total);
  }

  @Test
  void anUnknownHashMeansNoClientSideRouting() {
    ShardRouter.Table table = ShardRouter.Table.fromProto(twoNodes(8, "sha1-v9"), "seed:1");
    assertFalse(table.routed());
    List<Entry> entries = List.of(new Entry("a", new byte[0], this), new Entry("b", new byte[0], this));
    assertEquals(Map.of("seed:1", entries), ShardRouter.group(table, "orders", entries));
  }

  @Test
  void callsGoToTheOwnersTheShardMapNames(@TempDir Path dir) {
    try (TestNode node = TestNode.start(dir)) {
      // The node says it owns every shard; the test rewrites its map to split them between two
      // made-up addresses, and connects both names to the one real node.
      CallRecorder seed = new CallRecorder()
          .rewriteShardMap(map -> twoNodes(map.getShardCount(), map.getHash()));
      Map<String, CallRecorder> perAddress = new ConcurrentHashMap<>();
      try (DedupeClient client = DedupeClient.builder()
          .target(node.address())
          .linger(Duration.ofMillis(1))
          .interceptors(seed)
          .channelFactory(address -> {
            CallRecorder r = perAddress.computeIfAbsent(address, a -> new CallRecorder());
            ManagedChannel ch = Grpc.newChannelBuilder(
                    address.startsWith("node-") ? node.address() : address,
                    InsecureChannelCredentials.create())
                .intercept(r)
                .build();
            return ch;
          })
          .build()) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
          ids.add("r-" + i);
        }
        List<Decision> ds = client.checkAndInsert("routed", ids);
        // Merged back in request order.
        assertEquals(ids, ds.stream().map(Decision::messageId).toList());
        assertTrue(ds.stream().allMatch(Decision::isNew));
        assertEquals(List.of(), client.forget("routed", ids).stream().filter(r -> !r).toList());
      }
      assertEquals(1, seed.calls("GetShardMap"));
      assertEquals(0, perAddress.get(node.address()).calls("CheckAndInsert"),
          "the seed address owns no shard in the rewritten map");
      int sent = 0;
      for (String owner : List.of("node-a:1", "node-b:1")) {
        List<CheckAndInsertRequest> rpcs = perAddress.get(owner).inserts();
        assertFalse(rpcs.isEmpty(), owner + " got nothing");
        String token = rpcs.get(0).getAttemptToken();
        for (CheckAndInsertRequest r : rpcs) {
          for (String id : r.getMessageIdsList()) {
            int shard = ShardHash.shardOf("routed", id, SHARDS);
            assertEquals(owner, shard % 2 == 0 ? "node-a:1" : "node-b:1", id + " sent to " + owner);
            sent++;
          }
          assertEquals(token, r.getAttemptToken(), "the groups of one batch share its token");
        }
        assertFalse(perAddress.get(owner).requests("Forget").isEmpty(), owner + " got no Forget");
      }
      assertEquals(200, sent);
    }
  }

  @Test
  void whenOneOwnerIsDownTheOthersDecisionsSurviveInAPartialBatchException(@TempDir Path dir) {
    try (TestNode node = TestNode.start(dir)) {
      CallRecorder seed = new CallRecorder()
          .rewriteShardMap(map -> twoNodes(map.getShardCount(), map.getHash()));
      try (DedupeClient client = DedupeClient.builder()
          .target(node.address())
          .linger(Duration.ofMillis(1))
          .maxAttempts(3)
          .backoff(Duration.ofMillis(5), Duration.ofMillis(10))
          .interceptors(seed)
          .channelFactory(address -> Grpc.newChannelBuilder(
                  address.equals("node-a:1") ? node.address()
                      : address.equals("node-b:1") ? "127.0.0.1:1" : address,
                  InsecureChannelCredentials.create())
              .build())
          .build()) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
          ids.add("p-" + i);
        }
        PartialBatchException e = assertThrows(PartialBatchException.class,
            () -> client.checkAndInsert("partial", ids));
        assertEquals(io.grpc.Status.Code.UNAVAILABLE, e.code());
        assertEquals(ids.size(), e.decisions().size());
        for (int i = 0; i < ids.size(); i++) {
          boolean onLiveNode = ShardHash.shardOf("partial", ids.get(i), SHARDS) % 2 == 0;
          Decision d = e.decisions().get(i);
          if (onLiveNode) {
            assertEquals(ids.get(i), d.messageId());
            assertTrue(d.isNew(), d.toString());
          } else {
            assertEquals(null, d, "an id of the dead node has no decision");
          }
        }
        // Each UNAVAILABLE made the client look at the map again before retrying.
        assertTrue(seed.calls("GetShardMap") >= 2, "GetShardMap calls: " + seed.calls("GetShardMap"));
      }
    }
  }
}
