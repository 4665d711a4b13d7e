package dev.dedupe.server.cli;

import com.google.protobuf.ByteString;
import dev.dedupe.v1.CommitRequest;
import dev.dedupe.v1.IdStatus;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bin/dedupe commit}: Commit leased ids. */
@Command(name = "commit", mixinStandardHelpOptions = true,
    description = "Commit: mark ids leased to --token done, storing a result that later"
        + " duplicates get back.")
final class CommitCommand extends IdCommand {

  @Option(names = "--token", paramLabel = "TOKEN", required = true,
      description = "The attempt token that holds the leases.")
  String token;

  @Option(names = "--result", paramLabel = "TEXT",
      description = "The result to store for each id (UTF-8, up to limits.result.max-bytes).")
  String result;

  @Override
  void ask(String target, List<String> ids, IdTable table) {
    List<IdStatus> statuses = NodeCalls.followingOwners(target, ids, (stub, part) -> {
      CommitRequest.Builder request = CommitRequest.newBuilder()
          .setNamespace(namespace).addAllMessageIds(part).setAttemptToken(token);
      if (result != null) {
        ByteString bytes = ByteString.copyFromUtf8(result);
        part.forEach(id -> request.addResults(bytes));
      }
      return stub.commit(request.build()).getStatusesList();
    }, s -> s);
    for (int i = 0; i < ids.size(); i++) {
      addStatus(table, ids.get(i), statuses.get(i));
    }
  }
}
