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
import java.util.concurrent.TimeUnit;

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

    ManagedChannel channel = NettyChannelBuilder.forTarget(target).usePlaintext().build();
    try {
      DedupeServiceGrpc.DedupeServiceBlockingStub stub =
          DedupeServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
      switch (command) {
        case "insert", "check-and-insert" -> {
          CheckAndInsertRequest.Builder request = CheckAndInsertRequest.newBuilder()
              .setNamespace(namespace).addAllMessageIds(ids).setAttemptToken(token);
          if (leaseSeconds != 0) {
            request.setLeaseDuration(com.google.protobuf.Duration.newBuilder().setSeconds(leaseSeconds));
          }
          if (fingerprint != null) {
            request.setFingerprint(ByteString.copyFromUtf8(fingerprint));
          }
          printResults(out, ids, stub.checkAndInsert(request.build()).getResultsList());
        }
        case "commit" -> {
          CommitRequest.Builder request = CommitRequest.newBuilder()
              .setNamespace(namespace).addAllMessageIds(ids).setAttemptToken(token);
          if (result != null) {
            ByteString bytes = ByteString.copyFromUtf8(result);
            ids.forEach(id -> request.addResults(bytes));
          }
          printStatuses(out, ids, stub.commit(request.build()).getStatusesList());
        }
        case "release" -> printStatuses(out, ids, stub.release(ReleaseRequest.newBuilder()
            .setNamespace(namespace).addAllMessageIds(ids).setAttemptToken(token).build())
            .getStatusesList());
        case "check" -> printResults(out, ids, stub.check(
            CheckRequest.newBuilder().setNamespace(namespace).addAllMessageIds(ids).build())
            .getResultsList());
        case "forget" -> {
          List<Boolean> removed = stub.forget(
              ForgetRequest.newBuilder().setNamespace(namespace).addAllMessageIds(ids).build())
              .getRemovedList();
          for (int i = 0; i < ids.size(); i++) {
            out.println(ids.get(i) + "\t" + (removed.get(i) ? "REMOVED" : "NOT_HELD"));
          }
        }
        case "stats" -> printStats(out, stub.getNamespaceStats(
            GetNamespaceStatsRequest.newBuilder().setNamespace(namespace).build()));
        default -> throw new Main.UsageException("unknown command '" + command + "'");
      }
      return 0;
    } catch (StatusRuntimeException e) {
      err.println("dedupe: " + target + " answered " + e.getStatus().getCode() + ": "
          + e.getStatus().getDescription());
      return 1;
    } finally {
      channel.shutdownNow();
    }
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
      out.println(s.getCode() == 0
          ? ids.get(i) + "\tOK"
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
