package dev.dedupe.server.replication.sim;

import java.util.ArrayList;
import java.util.List;

/**
 * Every invocation and completion of every client call, Jepsen style: who, which id, which
 * attempt token, when, and the answer (NEW, DUPLICATE), the error (UNAVAILABLE) or a timeout.
 * An error is not an acknowledgement; a timeout may or may not have happened.
 */
public final class History {

  public enum Kind { INVOKE, OK, FAIL, TIMEOUT }

  public record Op(long time, String client, long requestId, String id, String token, int attempt,
      Kind kind, Msg.Result result) {
    @Override
    public String toString() {
      return time + " " + client + "#" + requestId + " " + kind + " " + id + " token " + token
          + " attempt " + attempt + (result == null ? "" : " -> " + result);
    }
  }

  final List<Op> ops = new ArrayList<>();

  void add(Op op) {
    ops.add(op);
  }

  public List<Op> ops() {
    return ops;
  }
}
