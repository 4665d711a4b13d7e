package dev.dedupe.sqs;

import dev.dedupe.client.EachOutcome;
import dev.dedupe.queue.InProgressPolicy;
import software.amazon.awssdk.services.sqs.model.Message;

/**
 * Turns what onceEach did with a message into what happens to it on SQS, following
 * {@link EachOutcome}'s rules: done or ran (Executed, AlreadyDone, Unconfirmed) is deleted;
 * never passable (Conflict, Invalid) is dead-lettered; held elsewhere is hidden for the rest of
 * that lease (or waited for); a failure is retried until ApproximateReceiveCount reaches the
 * limit, then dead-lettered; NotRun is retried (nothing ran).
 */
final class OutcomeRouter {

  private final InProgressPolicy inProgress;
  private final int maxReceiveCount;

  OutcomeRouter(InProgressPolicy inProgress, int maxReceiveCount) {
    this.inProgress = inProgress;
    this.maxReceiveCount = maxReceiveCount;
  }

  Disposition route(EachOutcome<Message> outcome) {
    return switch (outcome) {
      case EachOutcome.Executed<Message> e -> new Disposition.Delete();
      case EachOutcome.AlreadyDone<Message> a -> new Disposition.Delete();
      case EachOutcome.Unconfirmed<Message> u -> new Disposition.Delete();
      case EachOutcome.Conflict<Message> c -> new Disposition.DeadLetter("conflict");
      case EachOutcome.Invalid<Message> i -> new Disposition.DeadLetter("invalid");
      case EachOutcome.InProgressElsewhere<Message> p -> inProgress == InProgressPolicy.WAIT
          ? new Disposition.Wait(p.leaseExpiresAt())
          : new Disposition.HideUntil(p.leaseExpiresAt());
      case EachOutcome.Failed<Message> f ->
          MessageIds.receiveCount(f.message()) >= maxReceiveCount
              ? new Disposition.DeadLetter("delivery_limit")
              : new Disposition.Retry();
      case EachOutcome.NotRun<Message> n -> new Disposition.Retry();
    };
  }
}
