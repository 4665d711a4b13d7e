package dev.dedupe.server.cli;

import dev.dedupe.v1.CheckRequest;
import dev.dedupe.v1.IdResult;
import java.util.List;
import picocli.CommandLine.Command;

/** {@code bin/dedupe check}: Check, which records nothing. */
@Command(name = "check", mixinStandardHelpOptions = true,
    description = "Check: what insert would answer for each id; records nothing.")
final class CheckCommand extends IdCommand {

  @Override
  void ask(String target, List<String> ids, IdTable table) {
    List<IdResult> results = NodeCalls.followingOwners(target, ids,
        (stub, part) -> stub.check(CheckRequest.newBuilder().setNamespace(namespace)
            .addAllMessageIds(part).build()).getResultsList(),
        r -> r.hasStatus() ? r.getStatus() : null);
    for (int i = 0; i < ids.size(); i++) {
      addResult(table, ids.get(i), results.get(i));
    }
  }
}
