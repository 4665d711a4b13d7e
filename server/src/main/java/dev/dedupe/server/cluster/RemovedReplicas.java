package dev.dedupe.server.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import java.util.function.LongSupplier;

/**
 * The rule for the data of shards this node holds on disk but no longer holds a replica of (a
 * move took its replica away, a cancelled move's target, a replica removed while the node was
 * down): keep it for {@code cluster.removed-replica-grace.seconds}, so that an admin who moved
 * a replica by mistake can move it back and catch up from the kept data rather than copy it
 * all again, then delete it.
 *
 * <p>The grace counts from when this node first saw the shard without its replica, in this
 * process, on the monotonic clock: a restart starts it again for every such shard (the time a
 * replica left is not recorded anywhere durable, and a disk that outlived a long outage is
 * better deleted an hour late than early). A shard that becomes a replica here again within
 * the grace is forgotten: it reopens on its old data, which its leader treats as any
 * follower's (resent from where it stands if its position is in the leader's log, rebuilt
 * from a snapshot, with a new store identity, if not), and it rejoins the in-sync set only
 * after catching up.
 *
 * <p>Not thread-safe: the cluster member's event thread owns it.
 */
final class RemovedReplicas {

  private final Duration grace;
  private final LongSupplier nanos;
  /** Shard to when it was first seen held here without a replica here. */
  private final Map<Integer, Long> since = new HashMap<>();

  RemovedReplicas(Duration grace, LongSupplier nanos) {
    this.grace = grace;
    this.nanos = nanos;
  }

  /**
   * Notes the shards held on disk without a replica here, and answers those whose grace has
   * passed: delete them now.
   *
   * @param replicasHere the shards this node holds a replica of, as last read
   * @param heldOnDisk whether the node's database holds a shard's data
   */
  List<Integer> due(Collection<Integer> replicasHere, IntPredicate heldOnDisk, int shardCount) {
    long now = nanos.getAsLong();
    List<Integer> out = new ArrayList<>();
    for (int s = 0; s < shardCount; s++) {
      if (replicasHere.contains(s) || !heldOnDisk.test(s)) {
        since.remove(s);
        continue;
      }
      long first = since.computeIfAbsent(s, x -> now);
      if (now - first >= grace.toNanos()) {
        out.add(s);
      }
    }
    return out;
  }

  /** The shard's data was deleted. */
  void deleted(int shard) {
    since.remove(shard);
  }

  /** Shards kept now, awaiting their grace. */
  int waiting() {
    return since.size();
  }
}
