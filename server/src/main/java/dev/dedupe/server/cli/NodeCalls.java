package dev.dedupe.server.cli;

import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceBlockingStub;
import dev.dedupe.v1.IdStatus;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * Calls a node for the command line: one blocking call with a deadline, then the ids answered
 * UNAVAILABLE with an owner's address sent once to that owner. Enough for a person at a
 * terminal in front of a cluster; the Java client library does the real routing (shard map,
 * retries, watch).
 */
final class NodeCalls {

  private static final long DEADLINE_SECONDS = 30;

  private NodeCalls() {}

  static <T> T call(String target, Function<DedupeServiceBlockingStub, T> call) {
    ManagedChannel channel = NettyChannelBuilder.forTarget(target).usePlaintext().build();
    try {
      return call.apply(DedupeServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS));
    } catch (StatusRuntimeException e) {
      throw new Failures.CommandFailure(Failures.describe(e.getStatus(), target), e);
    } finally {
      channel.shutdownNow();
    }
  }

  /**
   * Calls {@code target} with all ids, then re-sends the ids it answered UNAVAILABLE with an
   * owner's address to that owner, once.
   */
  static <R> List<R> followingOwners(String target, List<String> ids,
      BiFunction<DedupeServiceBlockingStub, List<String>, List<R>> call,
      Function<R, IdStatus> statusOf) {
    List<R> results = new ArrayList<>(call(target, stub -> call.apply(stub, ids)));
    Map<String, List<Integer>> byOwner = new LinkedHashMap<>();
    for (int i = 0; i < ids.size(); i++) {
      IdStatus status = statusOf.apply(results.get(i));
      if (unavailable(status) && status.hasOwner() && !status.getOwner().getAddress().isEmpty()
          && !status.getOwner().getAddress().equals(target)) {
        byOwner.computeIfAbsent(status.getOwner().getAddress(), a -> new ArrayList<>()).add(i);
      }
    }
    byOwner.forEach((owner, positions) -> {
      List<String> part = positions.stream().map(ids::get).toList();
      List<R> answers = call(owner, stub -> call.apply(stub, part));
      for (int j = 0; j < positions.size(); j++) {
        results.set(positions.get(j), answers.get(j));
      }
    });
    return results;
  }

  static boolean unavailable(IdStatus status) {
    return status != null && status.getCode() == com.google.rpc.Code.UNAVAILABLE_VALUE;
  }

  /** The ids as given, with each "-" replaced by the lines of standard input. */
  static List<String> expandStdin(List<String> ids) {
    if (!ids.contains("-")) {
      return ids;
    }
    List<String> expanded = new ArrayList<>();
    for (String id : ids) {
      if (!id.equals("-")) {
        expanded.add(id);
        continue;
      }
      try {
        BufferedReader in =
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
          if (!line.isBlank()) {
            expanded.add(line.strip());
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read ids from standard input", e);
      }
    }
    return expanded;
  }
}
