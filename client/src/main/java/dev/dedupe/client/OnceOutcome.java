package dev.dedupe.client;

import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;

/**
 * What {@link DedupeClient#once} did. Sealed, so a {@code switch} over it must handle every case:
 *
 * <pre>{@code
 * OnceOutcome outcome = client.once("payments.charge", orderId, () -> gateway.charge(order));
 * switch (outcome) {
 *   case OnceOutcome.Executed e -> ack(e.result());              // ran here, result stored
 *   case OnceOutcome.AlreadyDone d -> ack(d.result());           // ran before: its stored result
 *   case OnceOutcome.InProgressElsewhere p -> retryAfter(p.leaseExpiresAt());
 *   case OnceOutcome.Conflict c -> reject("id reused for another payload");
 * }
 * }</pre>
 */
public sealed interface OnceOutcome {

  /** The id. */
  String messageId();

  /**
   * The action ran here, and its result was committed: later calls get {@link AlreadyDone}
   * with these bytes.
   *
   * @param messageId the id
   * @param result what the action returned (empty if it returned null); a copy is returned
   * @param decision the NEW decision that let the action run (with its token and lease)
   */
  record Executed(String messageId, byte[] result, Decision decision) implements OnceOutcome {
    /** Validates and copies. @throws NullPointerException if messageId or decision is null */
    public Executed {
      Objects.requireNonNull(messageId, "messageId");
      Objects.requireNonNull(decision, "decision");
      result = result == null ? new byte[0] : result.clone();
    }

    /** A copy of the committed result. */
    @Override
    public byte[] result() {
      return result.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Executed e && messageId.equals(e.messageId)
          && Arrays.equals(result, e.result) && decision.equals(e.decision);
    }

    @Override
    public int hashCode() {
      return Objects.hash(messageId, Arrays.hashCode(result), decision);
    }

    @Override
    public String toString() {
      return "Executed[" + messageId + ", " + result.length + " result bytes]";
    }
  }

  /**
   * The action already ran (here or elsewhere) within the window; it was not run again.
   *
   * @param messageId the id
   * @param result the bytes the first run committed (empty if none, or if the id was recorded
   *     by a plain checkAndInsert without a lease); a copy is returned
   * @param firstSeen when the id was first recorded
   */
  record AlreadyDone(String messageId, byte[] result, Instant firstSeen) implements OnceOutcome {
    /** Validates and copies. @throws NullPointerException if messageId is null */
    public AlreadyDone {
      Objects.requireNonNull(messageId, "messageId");
      result = result == null ? new byte[0] : result.clone();
    }

    /** A copy of the stored result. */
    @Override
    public byte[] result() {
      return result.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof AlreadyDone d && messageId.equals(d.messageId)
          && Arrays.equals(result, d.result) && Objects.equals(firstSeen, d.firstSeen);
    }

    @Override
    public int hashCode() {
      return Objects.hash(messageId, Arrays.hashCode(result), firstSeen);
    }

    @Override
    public String toString() {
      return "AlreadyDone[" + messageId + ", " + result.length + " result bytes, firstSeen="
          + firstSeen + "]";
    }
  }

  /**
   * Another attempt holds a lease on the id and may be running the action right now; it was not
   * run here. Redeliver the message after {@link #leaseExpiresAt()}: by then the holder has
   * committed (you get {@link AlreadyDone}) or its lease ran out (you get to run it).
   *
   * @param messageId the id
   * @param leaseExpiresAt when the holder's lease ends (server clock)
   */
  record InProgressElsewhere(String messageId, Instant leaseExpiresAt) implements OnceOutcome {
    /** Validates. @throws NullPointerException if messageId is null */
    public InProgressElsewhere {
      Objects.requireNonNull(messageId, "messageId");
    }
  }

  /**
   * The id was recorded with a different fingerprint: the id was reused for another payload.
   * The action was not run. This is a bug in whoever assigns the ids; report it.
   *
   * @param messageId the id
   * @param firstSeen when the other payload's id was recorded
   */
  record Conflict(String messageId, Instant firstSeen) implements OnceOutcome {
    /** Validates. @throws NullPointerException if messageId is null */
    public Conflict {
      Objects.requireNonNull(messageId, "messageId");
    }
  }
}
