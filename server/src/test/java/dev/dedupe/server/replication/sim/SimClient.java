package dev.dedupe.server.replication.sim;

import dev.dedupe.server.replication.ShardState;
import java.util.TreeMap;

/**
 * A client: CheckAndInsert calls for ids from a small pool (so they collide), each with its own
 * attempt token; a call that fails or times out is retried with the SAME token, to the shard's
 * current leader, up to a budget, as the Java client does.
 */
public final class SimClient {

  private record Call(String id, String token, int attempt) {}

  final String name;
  private final SimCluster c;
  private final Sim sim;
  private final int budget;
  private final String fixedId;
  private int tokens;
  private String id;
  private String token;
  private int attempt;
  private long requestId;
  private boolean waiting;
  boolean done;
  boolean succeeded;
  private final TreeMap<Long, Call> calls = new TreeMap<>();

  SimClient(String name, SimCluster c, int budget, String fixedId) {
    this.name = name;
    this.c = c;
    this.sim = c.sim;
    this.budget = budget;
    this.fixedId = fixedId;
  }

  void startNext() {
    if (fixedId == null && !c.clientsActive) {
      done = true;
      return;
    }
    id = fixedId != null ? fixedId : "k" + sim.between(0, c.cfg.idPool() - 1);
    token = name + "." + (++tokens);
    attempt = 0;
    send();
  }

  private void send() {
    attempt++;
    requestId = c.nextRequestId++;
    waiting = true;
    int shard = c.shardOf(id);
    ShardState st = c.zk.peek(shard);
    String target = st.hasLeader() ? st.leader() : st.replicas().get(sim.between(0, st.replicas().size() - 1));
    calls.put(requestId, new Call(id, token, attempt));
    c.history.add(new History.Op(sim.now(), name, requestId, id, token, attempt, History.Kind.INVOKE, null));
    c.net.send(name, target, new Msg.Request(name, requestId, shard, id, token));
    long mine = requestId;
    sim.after(c.cfg.clientTimeout(), () -> timedOut(mine));
  }

  private void timedOut(long request) {
    if (!waiting || request != requestId) {
      return;
    }
    Call call = calls.get(request);
    c.history.add(new History.Op(sim.now(), name, request, call.id(), call.token(), call.attempt(),
        History.Kind.TIMEOUT, null));
    retry();
  }

  private void retry() {
    waiting = false;
    if (attempt < budget) {
      sim.after(sim.between(10, 60), this::send);
    } else {
      sim.after(sim.between(10, 60), this::startNext); // gives up on this call
    }
  }

  void receive(Msg m) {
    if (!(m instanceof Msg.Reply r)) {
      return;
    }
    Call call = calls.get(r.requestId());
    boolean ok = r.result() != Msg.Result.UNAVAILABLE;
    // Late answers to an earlier attempt are answers too: they all go into the history.
    c.history.add(new History.Op(sim.now(), name, r.requestId(), call.id(), call.token(),
        call.attempt(), ok ? History.Kind.OK : History.Kind.FAIL, r.result()));
    if (!waiting || r.requestId() != requestId) {
      return;
    }
    if (ok) {
      waiting = false;
      if (fixedId != null) {
        succeeded = true;
        done = true;
        return;
      }
      sim.after(sim.between(0, 30), this::startNext);
    } else {
      retry();
    }
  }
}
