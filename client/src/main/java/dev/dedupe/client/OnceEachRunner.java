package dev.dedupe.client;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;

/**
 * {@link DedupeClient#onceEach}: once() for a batch of messages received together. One
 * CheckAndInsert with a lease for the batch's distinct ids; then, in the batch's order, on the
 * caller's thread, each NEW id's action runs with its lease kept alive ({@link LeaseKeeper}),
 * and its result is committed, or its lease released if it threw. A commit is not awaited
 * before the next action runs; all are awaited before {@link #run} returns, so a caller that
 * acks on return never acks a message whose commit is still in flight.
 *
 * <p>The rules a queue adapter relies on, in one place:
 * <ul>
 *   <li>An id twice in one batch is decided once: the later copy gets the earlier one's
 *       outcome as AlreadyDone when it was done, and is otherwise NotRun (redelivered later),
 *       so the action never runs twice for it, even though one attempt token holds both.</li>
 *   <li>With groups, a group stops at its first message that does not finish (Failed,
 *       Unconfirmed aside, InProgressElsewhere, NotRun): the group's later messages are NotRun
 *       and their leases released, so that they are redelivered in order.</li>
 *   <li>Leases that no action will use (NotRun) are released at once, never left to run
 *       out.</li>
 *   <li>A NEW id's lease is kept alive only while its own action runs, so an id that waited
 *       behind earlier actions for a quarter of its lease or more is renewed before its action
 *       starts; if another attempt took it over meanwhile (the lease ran out behind a slow
 *       action), it is NotRun, and its redelivery is decided again, rather than run a second
 *       time on a lost lease.</li>
 *   <li>If the service decided only part of the batch, the decided messages go on and the
 *       others are NotRun.</li>
 * </ul>
 *
 * <p>Threads: {@link #run} and the actions run on the caller's thread; lease renewals on the
 * client's timer thread.
 */
final class OnceEachRunner {

  private final DedupeClient client;
  private final ScheduledExecutorService timer;

  OnceEachRunner(DedupeClient client, ScheduledExecutorService timer) {
    this.client = client;
    this.timer = timer;
  }

  <M> List<EachOutcome<M>> run(String namespace, List<M> messages, EachSpec<M> spec,
      EachAction<M> action) {
    Validation.namespace(namespace);
    int n = messages.size();
    String[] ids = new String[n];
    EachOutcome<M>[] outcomes = newArray(n);
    // The batch's distinct valid ids, in first-seen order, with their fingerprints.
    Map<String, Integer> firstIndex = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      M m = messages.get(i);
      String id;
      try {
        id = spec.idOf().apply(m);
        if (id == null || id.isEmpty()) {
          outcomes[i] = new EachOutcome.Invalid<>(m, "", "the message has no id");
          continue;
        }
      } catch (RuntimeException e) {
        outcomes[i] = new EachOutcome.Invalid<>(m, "", "its id could not be read: " + e);
        continue;
      }
      ids[i] = id;
      firstIndex.putIfAbsent(id, i);
    }
    // Every copy's fingerprint: the first copy's goes to the service, a later copy's is
    // compared with it (another body under the same id is not that copy's repeat).
    byte[][] prints = new byte[n][];
    for (int i = 0; i < n; i++) {
      if (ids[i] == null || spec.fingerprintOf() == null) {
        continue;
      }
      M m = messages.get(i);
      try {
        prints[i] = spec.fingerprintOf().apply(m);
      } catch (RuntimeException e) {
        outcomes[i] = new EachOutcome.Invalid<>(m, ids[i], "its fingerprint could not be"
            + " made: " + e);
        continue;
      }
      if (prints[i] != null && prints[i].length > InsertOptions.DEFAULT_MAX_FINGERPRINT_BYTES) {
        outcomes[i] = new EachOutcome.Invalid<>(m, ids[i], "its fingerprint is "
            + prints[i].length + " bytes, more than the "
            + InsertOptions.DEFAULT_MAX_FINGERPRINT_BYTES + " the service takes");
      }
    }
    List<String> distinct = new ArrayList<>();
    List<byte[]> fingerprints = new ArrayList<>();
    for (Map.Entry<String, Integer> first : firstIndex.entrySet()) {
      int i = first.getValue();
      if (outcomes[i] == null) {
        distinct.add(first.getKey());
        fingerprints.add(prints[i]);
      }
    }

    Map<String, Decision> decided = new HashMap<>();
    Map<String, RuntimeException> undecided = new HashMap<>();
    long decidedAt = System.nanoTime(); // no later than the service started the leases
    decide(namespace, distinct, fingerprints, spec, decided, undecided);

    Set<String> stoppedGroups = new HashSet<>();
    Map<String, EachOutcome<M>> byId = new HashMap<>();
    // The commit in flight for each Executed message, by index.
    List<CompletableFuture<Void>> commits = new ArrayList<>(java.util.Collections.nCopies(n, null));
    boolean interrupted = false;
    for (int i = 0; i < n; i++) {
      if (outcomes[i] != null) {
        continue; // invalid
      }
      M m = messages.get(i);
      String id = ids[i];
      String group = spec.groupOf() == null ? null : spec.groupOf().apply(m);
      Decision d = decided.get(id);
      boolean first = firstIndex.get(id) == i;
      EachOutcome<M> outcome;
      if (!first && !java.util.Arrays.equals(prints[i], prints[firstIndex.get(id)])) {
        // Another body under the same id: its own decision (CONFLICT, or NEW if the first
        // copy's never got recorded), when it comes again, not the first copy's outcome.
        outcome = new EachOutcome.NotRun<>(m, id, "the same id came earlier in this batch with"
            + " another body; it is decided on its own when redelivered", null);
      } else if (!first) {
        outcome = repeatOf(m, id, byId.get(id));
      } else if (interrupted) {
        outcome = notRun(namespace, m, id, d, "the thread was interrupted before it ran", null);
      } else if (group != null && stoppedGroups.contains(group)) {
        outcome = notRun(namespace, m, id, d, "an earlier message of group '" + group
            + "' did not finish; the group goes on in order when it is redelivered", null);
      } else if (d == null) {
        RuntimeException why = undecided.get(id);
        outcome = new EachOutcome.NotRun<>(m, id, "the dedupe service did not decide it: "
            + (why == null ? "no answer" : why.getMessage()), why);
      } else {
        outcome = switch (d.verdict()) {
          case DUPLICATE -> new EachOutcome.AlreadyDone<>(m, id, d.result(), d.firstSeen());
          case IN_PROGRESS -> new EachOutcome.InProgressElsewhere<>(m, id, d.leaseExpiresAt());
          case CONFLICT -> new EachOutcome.Conflict<>(m, id, d.firstSeen());
          case NEW -> execute(namespace, m, id, d, spec, action, decidedAt, commits, i);
        };
        if (outcome instanceof EachOutcome.Failed<M> f
            && f.cause() instanceof InterruptedException) {
          interrupted = true;
        }
      }
      if (first) {
        byId.put(id, outcome);
      }
      if (group != null && stopsGroup(outcome)) {
        stoppedGroups.add(group);
      }
      outcomes[i] = outcome;
    }
    settleCommits(ids, firstIndex, outcomes, commits);
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    return List.of(outcomes);
  }

  /**
   * Waits for the commits the loop left in flight. One whose commit failed becomes
   * Unconfirmed, and its later copies in the batch NotRun (as if the commit had been awaited
   * before they were looked at): nothing vouches yet that the id is done.
   */
  private static <M> void settleCommits(String[] ids, Map<String, Integer> firstIndex,
      EachOutcome<M>[] outcomes, List<CompletableFuture<Void>> commits) {
    Set<String> unconfirmed = new HashSet<>();
    for (int i = 0; i < outcomes.length; i++) {
      CompletableFuture<Void> commit = commits.get(i);
      if (commit == null || !(outcomes[i] instanceof EachOutcome.Executed<M> e)) {
        continue;
      }
      try {
        commit.join();
      } catch (CompletionException | java.util.concurrent.CancellationException failed) {
        Throwable cause = Dispatcher.unwrap(failed);
        RuntimeException why = cause instanceof RuntimeException r ? r
            : new DedupeException("Commit failed: " + cause,
                io.grpc.Status.fromThrowable(cause), cause);
        outcomes[i] = new EachOutcome.Unconfirmed<>(e.message(), ids[i], e.result(), why);
        unconfirmed.add(ids[i]);
      }
    }
    if (unconfirmed.isEmpty()) {
      return;
    }
    for (int i = 0; i < outcomes.length; i++) {
      if (ids[i] != null && unconfirmed.contains(ids[i]) && firstIndex.get(ids[i]) != i
          && outcomes[i] instanceof EachOutcome.AlreadyDone<M>) {
        outcomes[i] = new EachOutcome.NotRun<>(outcomes[i].message(), ids[i], "the same id"
            + " came earlier in this batch and its commit was not confirmed", null);
      }
    }
  }

  /** One call for the batch; ids it could not decide are noted with why. */
  private <M> void decide(String namespace, List<String> distinct, List<byte[]> fingerprints,
      EachSpec<M> spec, Map<String, Decision> decided, Map<String, RuntimeException> undecided) {
    if (distinct.isEmpty()) {
      return;
    }
    try {
      List<Decision> answers = client.checkAndInsertEachAsync(namespace, distinct, fingerprints,
          InsertOptions.none().withLease(spec.lease())).join();
      answers.forEach(d -> decided.put(d.messageId(), d));
    } catch (CompletionException e) {
      Throwable cause = Dispatcher.unwrap(e);
      if (cause instanceof PartialBatchException partial) {
        List<Decision> some = partial.decisions();
        for (int i = 0; i < distinct.size(); i++) {
          Decision d = i < some.size() ? some.get(i) : null;
          if (d != null) {
            decided.put(d.messageId(), d);
          } else {
            undecided.put(distinct.get(i), partial);
          }
        }
      } else {
        RuntimeException failure = cause instanceof RuntimeException r ? r
            : new DedupeException("CheckAndInsert failed: " + cause,
                io.grpc.Status.fromThrowable(cause), cause);
        distinct.forEach(id -> undecided.put(id, failure));
      }
    }
  }

  private <M> EachOutcome<M> execute(String namespace, M m, String id, Decision d,
      EachSpec<M> spec, EachAction<M> action, long decidedAt,
      List<CompletableFuture<Void>> commits, int index) {
    String token = d.attemptToken();
    if (System.nanoTime() - decidedAt >= spec.lease().toNanos() / 4) {
      // Its lease was not kept while the actions before it ran: renew it now, so that the
      // keeper's first renewal, half a lease from now, finds it still live; and if it ran out
      // and another attempt took the id, do not run the action a second time.
      Instant end;
      try {
        end = client.extendLease(namespace, id, token, spec.lease());
      } catch (LeaseLostException e) {
        return new EachOutcome.NotRun<>(m, id, "its lease ran out while earlier messages of the"
            + " batch ran, and another attempt took the id: " + e.getMessage(), e);
      } catch (RuntimeException e) {
        return notRun(namespace, m, id, d, "its lease could not be renewed after earlier"
            + " messages of the batch ran: " + e.getMessage(), e);
      }
      if (spec.onLeaseExtended() != null) {
        try {
          spec.onLeaseExtended().accept(m, end);
        } catch (RuntimeException e) {
          // The listener's trouble is its own, as with the keeper's renewals.
        }
      }
    }
    LeaseKeeper keeper = new LeaseKeeper(client, timer, namespace, id, token, spec.lease(),
        spec.onLeaseExtended() == null ? end -> { } : end -> spec.onLeaseExtended().accept(m, end));
    byte[] result;
    try {
      result = action.run(m);
    } catch (Exception e) {
      keeper.stop();
      boolean released = release(namespace, id, token);
      return new EachOutcome.Failed<>(m, id, e, released);
    } finally {
      keeper.stop();
    }
    byte[] stored = result == null ? new byte[0] : result;
    // Not awaited here: the next message's action runs while this commit travels, and the
    // commits of a batch share the service's group commit. The runner awaits them all before
    // it returns, so no caller acks a message whose commit is still in flight.
    try {
      commits.set(index, client.commitAsync(namespace, id, token, stored));
    } catch (RuntimeException e) {
      return new EachOutcome.Unconfirmed<>(m, id, stored, e);
    }
    return new EachOutcome.Executed<>(m, id, stored, d);
  }

  /** NotRun for a message whose NEW lease (if any) is given back at once. */
  private <M> EachOutcome<M> notRun(String namespace, M m, String id, Decision d, String reason,
      Exception cause) {
    if (d != null && d.isNew()) {
      release(namespace, id, d.attemptToken());
    }
    return new EachOutcome.NotRun<>(m, id, reason, cause);
  }

  /** A later copy of an id in the same batch: never run again. */
  private static <M> EachOutcome<M> repeatOf(M m, String id, EachOutcome<M> earlier) {
    return switch (earlier) {
      case EachOutcome.Executed<M> e -> new EachOutcome.AlreadyDone<>(m, id, e.result(), null);
      case EachOutcome.AlreadyDone<M> a ->
          new EachOutcome.AlreadyDone<>(m, id, a.result(), a.firstSeen());
      case EachOutcome.InProgressElsewhere<M> p ->
          new EachOutcome.InProgressElsewhere<>(m, id, p.leaseExpiresAt());
      case EachOutcome.Conflict<M> c -> new EachOutcome.Conflict<>(m, id, c.firstSeen());
      case null, default -> new EachOutcome.NotRun<>(m, id, "the same id came earlier in this"
          + " batch and did not finish", null);
    };
  }

  private static boolean stopsGroup(EachOutcome<?> outcome) {
    return !(outcome instanceof EachOutcome.Executed<?>
        || outcome instanceof EachOutcome.AlreadyDone<?>
        || outcome instanceof EachOutcome.Conflict<?>
        || outcome instanceof EachOutcome.Invalid<?>
        || outcome instanceof EachOutcome.Unconfirmed<?>);
  }

  private boolean release(String namespace, String id, String token) {
    try {
      client.release(namespace, id, token);
      return true;
    } catch (RuntimeException e) {
      return false; // the lease runs out on its own
    }
  }

  @SuppressWarnings("unchecked")
  private static <M> EachOutcome<M>[] newArray(int n) {
    return (EachOutcome<M>[]) new EachOutcome<?>[n];
  }
}
