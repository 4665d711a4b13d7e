package dev.dedupe.server.rpc;

import com.google.rpc.Code;
import dev.dedupe.server.decision.ShardMap;
import dev.dedupe.server.decision.Unhandled;
import dev.dedupe.v1.IdStatus;
import dev.dedupe.v1.ShardOwner;

/** The per-id statuses the API answers: OK, and UNAVAILABLE with a hint at the owner. */
final class IdStatuses {

  static final IdStatus OK = IdStatus.newBuilder().setCode(Code.OK_VALUE).build();

  private IdStatuses() {}

  /** An owner as the shard map and owner hints name it. */
  static ShardOwner toProto(ShardMap.Owner owner) {
    return ShardOwner.newBuilder().setShard(owner.shard()).setAddress(owner.address())
        .setEpoch(owner.epoch()).setNodeId(owner.nodeId()).build();
  }

  /** UNAVAILABLE for an id this node did not decide, with the owner when it is known. */
  static IdStatus unavailable(Unhandled why) {
    return unavailable(why, why.reason());
  }

  /** As {@link #unavailable(Unhandled)}, with {@code reason} in place of the one {@code why} gives. */
  static IdStatus unavailable(Unhandled why, String reason) {
    IdStatus.Builder status = IdStatus.newBuilder()
        .setCode(Code.UNAVAILABLE_VALUE).setMessage(reason);
    if (why.owner() != null) {
      status.setOwner(toProto(why.owner()));
    }
    return status.build();
  }
}
