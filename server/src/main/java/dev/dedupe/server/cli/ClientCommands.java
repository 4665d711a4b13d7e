package dev.dedupe.server.cli;

import com.google.protobuf.Timestamp;
import com.google.protobuf.ByteString;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.CommitRequest;
import dev.dedupe.v1.IdStatus;
import dev.dedupe.v1.ReleaseRequest;
import dev.dedupe.v1.CheckRequest;
import dev.dedupe.v1.DedupeServiceGrpc;
import dev.dedupe.v1.ForgetRequest;
import dev.dedupe.v1.GetNamespaceStatsRequest;
import dev.dedupe.v1.GetNamespaceStatsResponse;
import dev.dedupe.v1.IdResult;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Function;
import dev.dedupe.v1.DedupeServiceGrpc.DedupeServiceBlockingStub;

/** The command-line client: one RPC per command, results one per line. */
final class ClientCommands {

  private ClientCommands() {}

  static int run(String command, List<String> args, PrintStream out, PrintStream err) {
    String target = System.getenv().getOrDefault("DEDUPE_TARGET", "localhost:50051");
    String token = "";
    String result = null;
    String fingerprint = null;
    long leaseSeconds = 0;
    List<String> words = new ArrayList<>();
    for (int i = 0; i < args.size(); i++) {
      String flag = args.get(i);
      String value = i + 1 < args.size() ? args.get(i + 1) : null;
      switch (flag) {
        case "--target" -> target = Main.need(flag, value);
        case "--token" -> token = Main.need(flag, value);
        case "--result" -> result = Main.need(flag, value);
        case "--fingerprint" -> fingerprint = Main.need(flag, value);
        case "--lease" -> {
          try {
            leaseSeconds = Long.parseLong(Main.need(flag, value));
          } catch (NumberFormatException e) {
            throw new Main.UsageException("--lease takes whole seconds, got '" + value + "'");
          }
        }
        default -> {
          words.add(flag);
          continue;
        }
      }
      i++;
    }
    if (words.isEmpty()) {
      throw new Main.UsageException(command + " needs a NAMESPACE");
    }
    String namespace = words.get(0);
    List<String> ids = expandStdin(words.subList(1, words.size()));
    if (!command.equals("stats") && ids.isEmpty()) {
      throw new Main.UsageException(command + " needs at least one ID");
    }

    String finalToken = token;
    String finalResult = result;
    String finalFingerprint = fingerprint;
    long finalLease = leaseSeconds;
    try {
      switch (command) {
        case "insert", "check-and-insert" -> printResults(out, ids, followingOwners(target, ids,
            (stub, part) -> {
              CheckAndInsertRequest.Builder request = CheckAndInsertRequest.newBuilder()
                  .setNamespace(namespace).addAllMessageIds(part).setAttemptToken(finalToken);
              if (finalLease != 0) {
                request.setLeaseDuration(
                    com.google.protobuf.Duration.newBuilder().setSeconds(finalLease));
              }
              if (finalFingerprint != null) {
                request.setFingerprint(ByteString.copyFromUtf8(finalFingerprint));
              }
              return stub.checkAndInsert(request.build()).getResultsList();
            }, r -> r.hasStatus() ? r.getStatus() : null));
        case "commit" -> printStatuses(out, ids, followingOwners(target, ids, (stub, part) -> {
          CommitRequest.Builder request = CommitRequest.newBuilder()
              .setNamespace(namespace).addAllMessageIds(part).setAttemptToken(finalToken);
          if (finalResult != null) {
            ByteString bytes = ByteString.copyFromUtf8(finalResult);
            part.forEach(id -> request.addResults(bytes));
          }
          return stub.commit(request.build()).getStatusesList();
        }, s -> s));
        case "release" -> printStatuses(out, ids, followingOwners(target, ids,
            (stub, part) -> stub.release(ReleaseRequest.newBuilder().setNamespace(namespace)
                .addAllMessageIds(part).setAttemptToken(finalToken).build()).getStatusesList(),
            s -> s));
        case "check" -> printResults(out, ids, followingOwners(target, ids,
            (stub, part) -> stub.check(CheckRequest.newBuilder().setNamespace(namespace)
                .addAllMessageIds(part).build()).getResultsList(),
            r -> r.hasStatus() ? r.getStatus() : null));
        case "forget" -> {
          List<Forgotten> forgotten = followingOwners(target, ids, (stub, part) -> {
            var reply = stub.forget(ForgetRequest.newBuilder().setNamespace(namespace)
                .addAllMessageIds(part).build());
            List<Forgotten> each = new ArrayList<>();
            for (int i = 0; i < part.size(); i++) {
              each.add(new Forgotten(reply.getRemoved(i),
                  reply.getStatusesCount() == 0 ? null : reply.getStatuses(i)));
            }
            return each;
          }, Forgotten::status);
          for (int i = 0; i < ids.size(); i++) {
            Forgotten f = forgotten.get(i);
            out.println(ids.get(i) + "\t" + (unavailable(f.status()) ? describe(f.status())
                : f.removed() ? "REMOVED" : "NOT_HELD"));
          }
        }
        case "stats" -> printStats(out, withStub(target,
            stub -> stub.getNamespaceStats(
                GetNamespaceStatsRequest.newBuilder().setNamespace(namespace).build())));
        default -> throw new Main.UsageException("unknown command '" + command + "'");
      }
      return 0;
    } catch (StatusRuntimeException e) {
      err.println("dedupe: " + target + " answered " + e.getStatus().getCode() + ": "
          + e.getStatus().getDescription());
      return 1;
    }
  }

  private record Forgotten(boolean removed, IdStatus status) {}

  private static <T> T withStub(String target, Function<DedupeServiceBlockingStub, T> call) {
    ManagedChannel channel = NettyChannelBuilder.forTarget(target).usePlaintext().build();
    try {
      return call.apply(
          DedupeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS));
    } finally {
      channel.shutdownNow();
    }
  }

  /**
   * Calls {@code target} with all ids, then re-sends ids answered UNAVAILABLE with an owner
   * to that owner, once: enough for a person at a terminal in front of a cluster. The Java
   * client library does the real routing (shard map, retries, watch).
   */
  private static <R> List<R> followingOwners(String target, List<String> ids,
      BiFunction<DedupeServiceBlockingStub, List<String>, List<R>> call,
      Function<R, IdStatus> statusOf) {
    List<R> results = new ArrayList<>(withStub(target, stub -> call.apply(stub, ids)));
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
      List<R> answers = withStub(owner, stub -> call.apply(stub, part));
      for (int j = 0; j < positions.size(); j++) {
        results.set(positions.get(j), answers.get(j));
      }
    });
    return results;
  }

  private static boolean unavailable(IdStatus status) {
    return status != null && status.getCode() == com.google.rpc.Code.UNAVAILABLE_VALUE;
  }

  private static String describe(IdStatus status) {
    return "UNAVAILABLE\t" + status.getMessage();
  }

  private static List<String> expandStdin(List<String> ids) {
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
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
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

  private static void printResults(PrintStream out, List<String> ids, List<IdResult> results) {
    for (int i = 0; i < ids.size(); i++) {
      IdResult r = results.get(i);
      if (r.hasStatus()) {
        out.println(ids.get(i) + "\t" + describe(r.getStatus()));
        continue;
      }
      StringBuilder line = new StringBuilder(ids.get(i)).append('\t')
          .append(r.getVerdict().name().replace("VERDICT_", ""));
      if (r.hasFirstSeen()) {
        line.append("\tfirst seen ").append(instant(r.getFirstSeen()));
      }
      if (r.getReplay()) {
        line.append("\treplay");
      }
      if (r.hasLeaseExpiresAt()) {
        line.append("\tlease until ").append(instant(r.getLeaseExpiresAt()));
      }
      if (!r.getResult().isEmpty()) {
        line.append("\tresult ").append(r.getResult().toStringUtf8());
      }
      out.println(line);
    }
  }

  private static void printStatuses(PrintStream out, List<String> ids, List<IdStatus> statuses) {
    for (int i = 0; i < ids.size(); i++) {
      IdStatus s = statuses.get(i);
      out.println(s.getCode() == 0 ? ids.get(i) + "\tOK"
          : unavailable(s) ? ids.get(i) + "\t" + describe(s)
          : ids.get(i) + "\tFAILED_PRECONDITION\t" + s.getMessage());
    }
  }

  private static void printStats(PrintStream out, GetNamespaceStatsResponse s) {
    out.println("namespace         " + s.getNamespace());
    out.println("keys held         " + s.getKeysHeld());
    out.println("bytes held        " + s.getBytesHeld() + " (estimate)");
    out.println("window            " + duration(s.getWindow()));
    out.println("effective window  " + duration(s.getEffectiveWindow()));
    out.println("oldest bucket     "
        + (s.hasOldestBucketStart() ? instant(s.getOldestBucketStart()) : "none"));
  }

  private static Instant instant(Timestamp t) {
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }

  private static Duration duration(com.google.protobuf.Duration d) {
    return Duration.ofSeconds(d.getSeconds(), d.getNanos());
  }
}
