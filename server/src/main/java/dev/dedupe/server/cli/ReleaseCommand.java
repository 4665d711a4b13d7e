package dev.dedupe.server.cli;

import dev.dedupe.v1.IdStatus;
import dev.dedupe.v1.ReleaseRequest;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bin/dedupe release}: Release leased ids. */
@Command(name = "release", mixinStandardHelpOptions = true,
    description = "Release: give up ids leased to --token, so that a retry can do the work.")
final class ReleaseCommand extends IdCommand {

  @Option(names = "--token", paramLabel = "TOKEN", required = true,
      description = "The attempt token that holds the leases.")
  String token;

  @Override
  void ask(String target, List<String> ids, IdTable table) {
    List<IdStatus> statuses = NodeCalls.followingOwners(target, ids,
        (stub, part) -> stub.release(ReleaseRequest.newBuilder().setNamespace(namespace)
            .addAllMessageIds(part).setAttemptToken(token).build()).getStatusesList(),
        s -> s);
    for (int i = 0; i < ids.size(); i++) {
      addStatus(table, ids.get(i), statuses.get(i));
    }
  }
}
