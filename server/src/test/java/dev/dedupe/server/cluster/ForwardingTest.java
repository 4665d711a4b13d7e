package dev.dedupe.server.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.Duration;
import com.google.rpc.Code;
import dev.dedupe.contract.ShardHash;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CheckRequest;
import dev.dedupe.v1.CommitRequest;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceBlockingStub;
import dev.dedupe.v1.ExtendLeaseRequest;
import dev.dedupe.v1.ExtendLeaseResponse;
import dev.dedupe.v1.ForgetRequest;
import dev.dedupe.v1.ForgetResponse;
import dev.dedupe.v1.GetShardMapRequest;
import dev.dedupe.v1.GetShardMapResponse;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.IdStatus;
import dev.dedupe.v1.ReleaseRequest;
import dev.dedupe.v1.ShardOwner;
import dev.dedupe.v1.Verdict;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Any node answers every id: a plain generated stub talks to node-0 of a three-node cluster
 * (real ZooKeeper, real gRPC on loopback), and node-0 forwards the ids of other nodes' shards
 * to their owners, one hop, keeping every field of the request.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ForwardingTest {

  private static final int SHARDS = 12;
  private static final String NS = "forward.test";

  @TempDir Path dir;
  private ClusterFixture cluster;
  private GetShardMapResponse map;

  @BeforeEach
  void start() throws Exception {
    // One replica per shard: a stopped owner stays down instead of failing over, which is the
    // case forwarding must answer per id (failover has its own tests).
    cluster = new ClusterFixture(dir, 3, SHARDS, 3, 1);
    cluster.awaitServing();
    map = cluster.stub(0).getShardMap(GetShardMapRequest.getDefaultInstance());
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
  }

  /** Ids that cover every shard, so that every node owns some of them. */
  private static List<String> idsOnEveryShard(String prefix) {
    List<String> ids = new ArrayList<>();
    Set<Integer> covered = new HashSet<>();
    for (int i = 0; covered.size() < SHARDS || ids.size() < 3 * SHARDS; i++) {
      String id = prefix + i;
      ids.add(id);
      covered.add(ShardHash.shardOf(NS, id, SHARDS));
    }
    return ids;
  }

  private ShardOwner ownerOf(String id) {
    return map.getOwners(ShardHash.shardOf(NS, id, SHARDS));
  }

  private static CheckAndInsertRequest.Builder insert(String token, List<String> ids) {
    return CheckAndInsertRequest.newBuilder().setNamespace(NS).setAttemptToken(token)
        .addAllMessageIds(ids);
  }

  private static void assertVerdicts(Verdict expected, List<IdResult> results, String what) {
    for (IdResult r : results) {
      assertEquals(expected, r.getVerdict(), what + ": " + r);
      assertFalse(r.hasStatus(), what + ": " + r);
    }
  }

  private static void assertAllOk(List<IdStatus> statuses, String what) {
    for (IdStatus s : statuses) {
      assertEquals(Code.OK_VALUE, s.getCode(), what + ": " + s);
    }
  }

  @Test
  void aPlainStubGetsEveryIdAnsweredByOneNode() throws Exception {
    List<String> ids = idsOnEveryShard("plain-");
    assertTrue(ids.stream().anyMatch(id -> !ownerOf(id).getNodeId().equals("node-0")));
    DedupeServiceBlockingStub node0 = cluster.stub(0);

    assertVerdicts(Verdict.VERDICT_NEW,
        node0.checkAndInsert(insert("t-1", ids).build()).getResultsList(), "first insert");
    assertVerdicts(Verdict.VERDICT_DUPLICATE,
        node0.checkAndInsert(insert("t-2", ids).build()).getResultsList(), "another token");
    List<IdResult> retry = node0.checkAndInsert(insert("t-1", ids).build()).getResultsList();
    assertVerdicts(Verdict.VERDICT_NEW, retry, "a retry of the same token");
    assertTrue(retry.stream().allMatch(IdResult::getReplay), "a retry is a replay: " + retry);

    // Recorded on the owners themselves, not on node-0.
    for (int i = 0; i < 3; i++) {
      String nodeId = "node-" + i;
      List<String> own = ids.stream().filter(id -> ownerOf(id).getNodeId().equals(nodeId)).toList();
      assertFalse(own.isEmpty(), nodeId + " owns some of the ids");
      assertVerdicts(Verdict.VERDICT_DUPLICATE, cluster.stub(i).check(
          CheckRequest.newBuilder().setNamespace(NS).addAllMessageIds(own).build())
          .getResultsList(), "asked of the owner " + nodeId);
    }

    assertVerdicts(Verdict.VERDICT_DUPLICATE, node0.check(
        CheckRequest.newBuilder().setNamespace(NS).addAllMessageIds(ids).build())
        .getResultsList(), "Check through node-0");
    ForgetResponse forgot = node0.forget(
        ForgetRequest.newBuilder().setNamespace(NS).addAllMessageIds(ids).build());
    assertEquals(ids.size(), forgot.getRemovedCount());
    assertTrue(forgot.getRemovedList().stream().allMatch(r -> r), forgot.toString());
    assertEquals(0, forgot.getStatusesCount(), "every id handled: no statuses");
    assertVerdicts(Verdict.VERDICT_NEW, node0.check(
        CheckRequest.newBuilder().setNamespace(NS).addAllMessageIds(ids).build())
        .getResultsList(), "forgotten everywhere");
  }

  @Test
  void leasesResultsAndFingerprintsOfForwardedIdsArePreserved() throws Exception {
    List<String> ids = idsOnEveryShard("lease-");
    DedupeServiceBlockingStub node0 = cluster.stub(0);
    List<ByteString> fingerprints = new ArrayList<>();
    List<ByteString> results = new ArrayList<>();
    for (String id : ids) {
      fingerprints.add(ByteString.copyFrom("fp:" + id, StandardCharsets.UTF_8));
      results.add(ByteString.copyFrom("done:" + id, StandardCharsets.UTF_8));
    }
    Duration minute = Duration.newBuilder().setSeconds(60).build();

    List<IdResult> leased = node0.checkAndInsert(insert("lease", ids)
        .setLeaseDuration(minute).addAllFingerprints(fingerprints).build()).getResultsList();
    assertVerdicts(Verdict.VERDICT_NEW, leased, "leased");
    assertTrue(leased.stream().allMatch(IdResult::hasLeaseExpiresAt), "each NEW carries its lease");
    assertVerdicts(Verdict.VERDICT_IN_PROGRESS,
        node0.checkAndInsert(insert("other", ids).build()).getResultsList(), "held by the lease");

    ExtendLeaseResponse extended = node0.extendLease(ExtendLeaseRequest.newBuilder()
        .setNamespace(NS).addAllMessageIds(ids).setAttemptToken("lease")
        .setLeaseDuration(Duration.newBuilder().setSeconds(120)).build());
    assertAllOk(extended.getStatusesList(), "ExtendLease");
    assertEquals(ids.size(), extended.getLeaseExpiresAtCount());
    for (int i = 0; i < ids.size(); i++) {
      assertTrue(extended.getLeaseExpiresAt(i).getSeconds()
          > leased.get(i).getLeaseExpiresAt().getSeconds(), "lease of " + ids.get(i) + " moved");
    }
    List<IdStatus> wrongToken = node0.extendLease(ExtendLeaseRequest.newBuilder()
        .setNamespace(NS).addAllMessageIds(ids).setAttemptToken("not-the-holder")
        .setLeaseDuration(minute).build()).getStatusesList();
    assertTrue(wrongToken.stream().allMatch(s -> s.getCode() == Code.FAILED_PRECONDITION_VALUE),
        "the token travels with the forwarded ids: " + wrongToken);

    // Commit the first half with a result per id, release the second half.
    int half = ids.size() / 2;
    List<String> committed = ids.subList(0, half);
    List<String> released = ids.subList(half, ids.size());
    assertAllOk(node0.commit(CommitRequest.newBuilder().setNamespace(NS).setAttemptToken("lease")
        .addAllMessageIds(committed).addAllResults(results.subList(0, half)).build())
        .getStatusesList(), "Commit");
    assertAllOk(node0.release(ReleaseRequest.newBuilder().setNamespace(NS).setAttemptToken("lease")
        .addAllMessageIds(released).build()).getStatusesList(), "Release");

    List<IdResult> again = node0.checkAndInsert(insert("later", committed)
        .addAllFingerprints(fingerprints.subList(0, half)).build()).getResultsList();
    assertVerdicts(Verdict.VERDICT_DUPLICATE, again, "committed");
    for (int i = 0; i < half; i++) {
      assertArrayEquals(results.get(i).toByteArray(), again.get(i).getResult().toByteArray(),
          "the result stored for " + committed.get(i));
    }
    assertVerdicts(Verdict.VERDICT_NEW,
        node0.checkAndInsert(insert("retry", released).build()).getResultsList(), "released");

    // A mismatched fingerprint on an id that node-0 forwards.
    String forwarded = committed.stream()
        .filter(id -> !ownerOf(id).getNodeId().equals("node-0")).findFirst().orElseThrow();
    List<IdResult> conflict = node0.checkAndInsert(insert("reuse", List.of(forwarded))
        .addFingerprints(ByteString.copyFromUtf8("another payload")).build()).getResultsList();
    assertEquals(Verdict.VERDICT_CONFLICT, conflict.get(0).getVerdict(), conflict.toString());
  }

  @Test
  void aForwardedRequestIsNotForwardedAgain() throws Exception {
    List<String> ids = idsOnEveryShard("once-");
    Metadata forwardedBy = new Metadata();
    forwardedBy.put(Metadata.Key.of("dedupe-forwarded-by", Metadata.ASCII_STRING_MARSHALLER), "node-1");
    List<IdResult> results = cluster.stub(0)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(forwardedBy))
        .checkAndInsert(insert("hop", ids).build()).getResultsList();
    for (int i = 0; i < ids.size(); i++) {
      ShardOwner owner = ownerOf(ids.get(i));
      IdResult r = results.get(i);
      if (owner.getNodeId().equals("node-0")) {
        assertEquals(Verdict.VERDICT_NEW, r.getVerdict(), r.toString());
      } else {
        assertEquals(Verdict.VERDICT_UNSPECIFIED, r.getVerdict(), "never a guessed verdict");
        assertEquals(Code.UNAVAILABLE_VALUE, r.getStatus().getCode(), r.toString());
        assertEquals(owner, r.getStatus().getOwner(), "the hint names the owner");
      }
    }
  }

  @Test
  void theIdsOfAnOwnerThatIsDownAreUnavailableAndTheRestAnswered() throws Exception {
    List<String> ids = idsOnEveryShard("down-");
    cluster.stop(2);
    List<IdResult> results = cluster.stub(0).checkAndInsert(insert("down", ids).build())
        .getResultsList();
    for (int i = 0; i < ids.size(); i++) {
      ShardOwner owner = ownerOf(ids.get(i));
      IdResult r = results.get(i);
      if (owner.getNodeId().equals("node-2")) {
        assertEquals(Verdict.VERDICT_UNSPECIFIED, r.getVerdict(), r.toString());
        assertEquals(Code.UNAVAILABLE_VALUE, r.getStatus().getCode(), r.toString());
        assertEquals("node-2", r.getStatus().getOwner().getNodeId(), r.toString());
        assertEquals(owner.getShard(), r.getStatus().getOwner().getShard(), r.toString());
      } else {
        assertEquals(Verdict.VERDICT_NEW, r.getVerdict(), ids.get(i) + ": " + r);
      }
    }
  }
}
