package dev.dedupe.server.replication.sim;

import dev.dedupe.server.replication.ShardState;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/** The invariants checked over a run's history and its healed replicas. */
public final class Checker {

  private Checker() {}

  /**
   * Whether the shard is offline by design: no leader, and every in-sync member came back with
   * another store (its disk was lost). Only an admin's unclean election brings it back.
   */
  static boolean lostByDesign(SimCluster c, int shard) {
    ShardState st = c.zk.peek(shard);
    if (st.hasLeader()) {
      return false;
    }
    for (Map.Entry<String, String> m : st.isr().entrySet()) {
      SimLog log = c.nodes.get(m.getKey()).disk.get(shard);
      if (log == null || log.storeId.equals(m.getValue())) {
        return false;
      }
    }
    return true;
  }

  /** Every shard has a running leader, every replica in sync, at the leader's position. */
  static boolean converged(SimCluster c) {
    for (int s = 0; s < c.cfg.shards(); s++) {
      ShardState st = c.zk.peek(s);
      if (lostByDesign(c, s)) {
        continue;
      }
      if (!st.hasLeader() || st.isr().size() != st.replicas().size()) {
        return false;
      }
      SimNode leader = c.nodes.get(st.leader());
      SimNode.Replica r = leader.replicas.get(s);
      if (!leader.running() || r == null || r.leader == null
          || r.leader.progress.epoch() != st.epoch()
          || r.leader.progress.commitIndex() != r.leader.progress.logEnd()) {
        return false;
      }
      for (String replica : st.replicas()) {
        SimNode n = c.nodes.get(replica);
        if (!n.disk.get(s).end().equals(leader.disk.get(s).end())) {
          return false;
        }
      }
    }
    return true;
  }

  static String describe(SimCluster c) {
    List<String> out = new ArrayList<>();
    for (int s = 0; s < c.cfg.shards(); s++) {
      ShardState st = c.zk.peek(s);
      StringBuilder b = new StringBuilder(SimZooKeeper.brief(st)).append(" positions");
      for (String replica : st.replicas()) {
        SimNode n = c.nodes.get(replica);
        SimNode.Replica r = n.replicas.get(s);
        b.append(' ').append(replica).append('=').append(n.disk.get(s).end());
        if (r != null && r.leader != null) {
          b.append("[leads e").append(r.leader.progress.epoch()).append(" commit ")
              .append(r.leader.progress.commitIndex()).append(" isr ")
              .append(r.leader.progress.inSync().keySet()).append(']');
        }
      }
      out.add(b.toString());
    }
    return String.join("; ", out);
  }

  static void check(SimCluster c, boolean settled, List<String> failures) {
    Map<String, Set<String>> newTokens = new TreeMap<>();
    Map<String, Set<String>> duplicateTokens = new TreeMap<>();
    Set<String> acknowledged = new TreeSet<>();
    for (History.Op op : c.history.ops()) {
      if (op.kind() != History.Kind.OK) {
        continue;
      }
      acknowledged.add(op.id());
      (op.result() == Msg.Result.NEW ? newTokens : duplicateTokens)
          .computeIfAbsent(op.id(), k -> new TreeSet<>()).add(op.token());
    }
    // 1. NEW at most once per id (a replay NEW to the same token is the same answer).
    newTokens.forEach((id, tokens) -> {
      if (tokens.size() > 1) {
        failures.add("id " + id + " answered NEW to " + tokens.size() + " attempt tokens " + tokens);
      }
    });
    // A token that heard NEW for an id must never hear DUPLICATE for it.
    duplicateTokens.forEach((id, tokens) -> {
      for (String t : tokens) {
        if (newTokens.getOrDefault(id, Set.of()).contains(t)) {
          failures.add("id " + id + ": token " + t + " heard both NEW and DUPLICATE");
        }
      }
    });
    if (!settled) {
      return; // the state checks need a leader per shard
    }
    for (String id : acknowledged) {
      int shard = c.shardOf(id);
      ShardState st = c.zk.peek(shard);
      if (lostByDesign(c, shard)) {
        continue;
      }
      SimLog log = c.nodes.get(st.leader()).disk.get(shard);
      String value = log.get(id);
      // 2. No acknowledged id lost; its value is the token that heard NEW.
      if (value == null) {
        failures.add("acknowledged id " + id + " is lost: not in the final leader " + st.leader()
            + "'s state (NEW to " + newTokens.get(id) + ", DUPLICATE to " + duplicateTokens.get(id) + ")");
        continue;
      }
      Set<String> news = newTokens.getOrDefault(id, Set.of());
      if (!news.isEmpty() && !news.contains(value)) {
        failures.add("id " + id + " heard NEW for " + news + " but holds " + value);
      }
      // 3. No false DUPLICATE: a token never hears DUPLICATE for its own record.
      if (duplicateTokens.getOrDefault(id, Set.of()).contains(value)) {
        failures.add("id " + id + ": false DUPLICATE to " + value + ", whose own record it is");
      }
    }
    // 4. Replicas identical once healed.
    for (int s = 0; s < c.cfg.shards(); s++) {
      ShardState st = c.zk.peek(s);
      if (lostByDesign(c, s)) {
        continue;
      }
      SimLog lead = c.nodes.get(st.leader()).disk.get(s);
      for (String replica : st.isr().keySet()) {
        SimLog log = c.nodes.get(replica).disk.get(s);
        if (!log.end().equals(lead.end()) || !log.history().equals(lead.history())
            || !log.records().equals(lead.records())) {
          failures.add("shard " + s + ": replica " + replica + " at " + log.end() + " " + log.records()
              + " differs from leader " + st.leader() + " at " + lead.end() + " " + lead.records());
        }
      }
    }
  }
}
