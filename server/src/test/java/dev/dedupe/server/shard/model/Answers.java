package dev.dedupe.server.shard.model;

import dev.dedupe.server.decision.IdResult;
import dev.dedupe.server.decision.LeaseOpResult;
import java.nio.charset.StandardCharsets;

/**
 * Renders answers as short text, the same way for the model and for the real writer, so that
 * they compare with equals and a mismatch reads plainly. Times are shown relative to the start
 * of the scenario ("+61.5s").
 */
public final class Answers {

  private final long startMillis;

  public Answers(long startMillis) {
    this.startMillis = startMillis;
  }

  public String of(IdResult r) {
    if (r.unhandled() != null) {
      return "UNHANDLED " + r.unhandled();
    }
    String first = r.firstSeenMillis() == IdResult.NOT_RECORDED ? "" : " first=" + at(r.firstSeenMillis());
    return r.verdict() + first + (r.replay() ? " replay" : "")
        + (r.leaseExpiresMillis() == 0 ? "" : " lease=" + at(r.leaseExpiresMillis()))
        + (r.result().length == 0 ? "" : " result=" + new String(r.result(), StandardCharsets.UTF_8));
  }

  public String of(LeaseOpResult r) {
    if (!r.ok() && r.failure().isEmpty()) {
      return "LOST without a reason";
    }
    return r.ok() ? done(r.leaseExpiresMillis()) : lost();
  }

  String fresh(long firstSeen, long leaseEnd) {
    return "NEW first=" + at(firstSeen) + lease(leaseEnd);
  }

  String newReplay(long firstSeen, long leaseEnd) {
    return "NEW first=" + at(firstSeen) + " replay" + lease(leaseEnd);
  }

  String duplicate(long firstSeen, String result) {
    return "DUPLICATE first=" + at(firstSeen) + (result.isEmpty() ? "" : " result=" + result);
  }

  String inProgress(long firstSeen, long leaseEnd) {
    return "IN_PROGRESS first=" + at(firstSeen) + lease(leaseEnd);
  }

  String conflict(long firstSeen) {
    return "CONFLICT first=" + at(firstSeen);
  }

  String notRecorded() {
    return "NEW";
  }

  public String forgot(boolean removed) {
    return removed ? "removed" : "not held";
  }

  String done(long leaseEnd) {
    return "OK" + lease(leaseEnd);
  }

  String lost() {
    return "LOST";
  }

  private String lease(long end) {
    return end == 0 ? "" : " lease=" + at(end);
  }

  private String at(long millis) {
    return "+" + ModelOp.seconds(millis - startMillis);
  }
}
