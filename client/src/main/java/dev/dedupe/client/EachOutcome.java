package dev.dedupe.client;

import java.time.Instant;
import java.util.Objects;

/**
 * What {@link DedupeClient#onceEach} did with one message of a batch, and so what a queue
 * consumer does with the delivery: {@link Executed} and {@link AlreadyDone} are acknowledged;
 * {@link Conflict} and {@link Invalid} go to the dead-letter queue; {@link InProgressElsewhere}
 * is redelivered once the other holder's lease ends; {@link Failed} is redelivered, counting
 * towards the delivery limit; {@link NotRun} is redelivered without counting (nothing ran);
 * {@link Unconfirmed} ran, so it is acknowledged, and counted.
 *
 * @param <M> the message type
 */
public sealed interface EachOutcome<M> {

  /** The message as given. */
  M message();

  /** Its id, as the spec's id function gave it. */
  String messageId();

  /**
   * The action ran here, and what it returned is committed: the id is done.
   *
   * @param result the bytes committed
   * @param decision the NEW decision it ran under
   */
  record Executed<M>(M message, String messageId, byte[] result, Decision decision)
      implements EachOutcome<M> {
    public Executed {
      Objects.requireNonNull(messageId, "messageId");
    }
  }

  /**
   * The id was done before (by another delivery, or earlier in this batch); the action did not
   * run here.
   *
   * @param result the bytes its run committed (empty if none)
   * @param firstSeen when the id was first recorded; null when it was done earlier in this batch
   */
  record AlreadyDone<M>(M message, String messageId, byte[] result, Instant firstSeen)
      implements EachOutcome<M> {
    public AlreadyDone {
      Objects.requireNonNull(messageId, "messageId");
    }
  }

  /**
   * Another attempt holds the id's lease and may be running the action now; it did not run
   * here. By {@code leaseExpiresAt} the holder has committed or its lease has run out.
   */
  record InProgressElsewhere<M>(M message, String messageId, Instant leaseExpiresAt)
      implements EachOutcome<M> {
    public InProgressElsewhere {
      Objects.requireNonNull(messageId, "messageId");
    }
  }

  /**
   * The id was recorded with another fingerprint: it was reused for another payload. The
   * action did not run; this is a bug in whoever assigns the ids.
   */
  record Conflict<M>(M message, String messageId, Instant firstSeen) implements EachOutcome<M> {
    public Conflict {
      Objects.requireNonNull(messageId, "messageId");
    }
  }

  /**
   * The action threw. Its lease was released ({@code released}) so that a redelivery runs it
   * again at once; if the release failed, the lease runs out first.
   */
  record Failed<M>(M message, String messageId, Exception cause, boolean released)
      implements EachOutcome<M> {
    public Failed {
      Objects.requireNonNull(messageId, "messageId");
      Objects.requireNonNull(cause, "cause");
    }
  }

  /**
   * The action ran, but its Commit failed ({@link LeaseLostException}: its lease ran out and
   * another attempt may run it too; or the service did not answer). The side effect happened;
   * the id is not recorded as done, and its lease runs out.
   */
  record Unconfirmed<M>(M message, String messageId, byte[] result, RuntimeException cause)
      implements EachOutcome<M> {
    public Unconfirmed {
      Objects.requireNonNull(messageId, "messageId");
      Objects.requireNonNull(cause, "cause");
    }
  }

  /**
   * Not run, and nothing of it is held: the service did not decide its id (the call failed for
   * it), or an earlier message of its group did not finish (ordered groups stop at their first
   * failure), or the thread was interrupted. A lease it got was released.
   *
   * @param reason why, for logs
   * @param cause the failure behind it, or null
   */
  record NotRun<M>(M message, String messageId, String reason, Exception cause)
      implements EachOutcome<M> {
    public NotRun {
      Objects.requireNonNull(reason, "reason");
    }
  }

  /**
   * The message's id is not one the service takes (empty, or its function failed); nothing
   * was asked. Such a message can never pass: dead-letter it.
   *
   * @param messageId the id as far as it is known ("" if none)
   */
  record Invalid<M>(M message, String messageId, String reason) implements EachOutcome<M> {
    public Invalid {
      Objects.requireNonNull(messageId, "messageId");
      Objects.requireNonNull(reason, "reason");
    }
  }
}
