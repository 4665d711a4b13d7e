package dev.dedupe.server.cli;

import dev.dedupe.v1.ForgetRequest;
import dev.dedupe.v1.IdStatus;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;

/** {@code bin/dedupe forget}: Forget. */
@Command(name = "forget", mixinStandardHelpOptions = true,
    description = "Forget: remove each id in any state, so that the next insert of it is NEW.")
final class ForgetCommand extends IdCommand {

  private record Forgotten(boolean removed, IdStatus status) {}

  @Override
  void ask(String target, List<String> ids, IdTable table) {
    List<Forgotten> forgotten = NodeCalls.followingOwners(target, ids, (stub, part) -> {
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
      if (f.status() != null && f.status().getCode() != 0) {
        addStatus(table, ids.get(i), f.status());
      } else {
        table.add(ids.get(i), f.removed() ? "REMOVED" : "NOT_HELD", false);
      }
    }
  }
}
