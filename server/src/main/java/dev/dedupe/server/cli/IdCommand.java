package dev.dedupe.server.cli;

import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Timestamps;
import dev.dedupe.v1.IdResult;
import dev.dedupe.v1.IdStatus;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** A command that sends a namespace and ids to a node and prints one answer per id. */
abstract class IdCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin CallOptions call;

  @Parameters(index = "0", paramLabel = "NAMESPACE",
      description = "1 to 128 characters of [A-Za-z0-9._:/-].")
  String namespace;

  @Parameters(index = "1..*", arity = "1..*", paramLabel = "ID",
      description = "Message ids; - reads more, one per line, from standard input.")
  List<String> ids;

  @Override
  public final Integer call() {
    String target = call.target();
    List<String> all = NodeCalls.expandStdin(ids);
    IdTable table = new IdTable();
    ask(target, all, table);
    return table.print(spec.commandLine().getOut(), call.output);
  }

  /** Calls the node for {@code ids} and adds one row per id to {@code table}, in order. */
  abstract void ask(String target, List<String> ids, IdTable table);

  /** A CheckAndInsert or Check answer as a row. */
  static void addResult(IdTable table, String id, IdResult r) {
    if (r.hasStatus()) {
      addStatus(table, id, r.getStatus());
      return;
    }
    table.add(id, r.getVerdict().name().replace("VERDICT_", ""), false,
        "first_seen", r.hasFirstSeen() ? instant(r.getFirstSeen()) : null,
        "replay", r.getReplay(),
        "lease_until", r.hasLeaseExpiresAt() ? instant(r.getLeaseExpiresAt()) : null,
        "result", r.getResult().isEmpty() ? null : r.getResult().toStringUtf8());
  }

  /** A per-id status as a row: OK, or the failure with its message and the owner's address. */
  static void addStatus(IdTable table, String id, IdStatus s) {
    if (s.getCode() == 0) {
      table.add(id, "OK", false);
      return;
    }
    com.google.rpc.Code code = com.google.rpc.Code.forNumber(s.getCode());
    table.add(id, code == null ? "CODE_" + s.getCode() : code.name(), true,
        "message", s.getMessage(),
        "owner", s.hasOwner() && !s.getOwner().getAddress().isEmpty()
            ? s.getOwner().getAddress() : null);
  }

  static String instant(Timestamp t) {
    return Timestamps.toString(t);
  }
}
