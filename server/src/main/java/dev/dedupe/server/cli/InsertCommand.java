package dev.dedupe.server.cli;

import com.google.protobuf.ByteString;
import dev.dedupe.v1.CheckAndInsertRequest;
import dev.dedupe.v1.IdResult;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bin/dedupe insert}: CheckAndInsert. */
@Command(name = "insert", aliases = "check-and-insert", mixinStandardHelpOptions = true,
    description = "CheckAndInsert: each id is NEW (now recorded), DUPLICATE, IN_PROGRESS or"
        + " CONFLICT.")
final class InsertCommand extends IdCommand {

  @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "",
      description = "The attempt token: a retry with the same token hears NEW (replay), never"
          + " DUPLICATE.")
  String token;

  @Option(names = "--lease", paramLabel = "SECONDS",
      description = "Record new ids as in progress for this long, until Commit or Release.")
  Long leaseSeconds;

  @Option(names = "--fingerprint", paramLabel = "TEXT",
      description = "A digest of the payload: the same id with another fingerprint is CONFLICT.")
  String fingerprint;

  @Override
  void ask(String target, List<String> ids, IdTable table) {
    List<IdResult> results = NodeCalls.followingOwners(target, ids, (stub, part) -> {
      CheckAndInsertRequest.Builder request = CheckAndInsertRequest.newBuilder()
          .setNamespace(namespace).addAllMessageIds(part).setAttemptToken(token);
      if (leaseSeconds != null) {
        request.setLeaseDuration(com.google.protobuf.util.Durations.fromSeconds(leaseSeconds));
      }
      if (fingerprint != null) {
        request.setFingerprint(ByteString.copyFromUtf8(fingerprint));
      }
      return stub.checkAndInsert(request.build()).getResultsList();
    }, r -> r.hasStatus() ? r.getStatus() : null);
    for (int i = 0; i < ids.size(); i++) {
      addResult(table, ids.get(i), results.get(i));
    }
  }
}
