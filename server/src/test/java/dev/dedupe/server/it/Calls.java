package dev.dedupe.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.Timestamp;
import dev.dedupe.v1.CheckRequest;
import dev.dedupe.v1.CheckResponse;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceBlockingStub;
import dev.dedupe.v1.IdResult;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Small helpers the integration tests share for talking to a node. */
final class Calls {

  /** Ids per Check request when verifying many ids; well under the server's 10,000 limit. */
  static final int CHECK_BATCH = 1_000;

  private Calls() {}

  /** A first_seen timestamp in epoch milliseconds, the precision the server records. */
  static long millis(Timestamp t) {
    return t.getSeconds() * 1_000 + t.getNanos() / 1_000_000;
  }

  /** Asks Check about every id, in batches; the answer per id, in iteration order. */
  static Map<String, IdResult> checkAll(
      DedupeServiceBlockingStub stub, String namespace, Collection<String> ids) {
    Map<String, IdResult> answers = new LinkedHashMap<>();
    List<String> all = new ArrayList<>(ids);
    for (int from = 0; from < all.size(); from += CHECK_BATCH) {
      List<String> batch = all.subList(from, Math.min(all.size(), from + CHECK_BATCH));
      CheckResponse reply = stub.withDeadlineAfter(30, TimeUnit.SECONDS).check(
          CheckRequest.newBuilder().setNamespace(namespace).addAllMessageIds(batch).build());
      assertEquals(batch.size(), reply.getResultsCount(), "Check answers one result per id");
      for (int i = 0; i < batch.size(); i++) {
        answers.put(batch.get(i), reply.getResults(i));
      }
    }
    return answers;
  }

  /** At most {@code n} items of a list, for failure messages that stay readable. */
  static <T> List<T> firstFew(List<T> items, int n) {
    return items.subList(0, Math.min(n, items.size()));
  }
}
