package dev.dedupe.client;

import io.grpc.Status;
import java.util.Collections;
import java.util.List;

/**
 * Part of a multi-id {@link DedupeClient#checkAndInsert(String, List)} or
 * {@link DedupeClient#check(String, List)} failed while the rest was decided, for example
 * because the ids span shards on several nodes and one node was unreachable. The decided ids
 * are not lost: {@link #decisions()} holds them, so that the caller can still act on the ids
 * answered NEW (which are recorded) and retry only the others, with the token each was sent
 * with ({@link #attemptTokens()}) if the failed ones may have been recorded.
 *
 * <pre>{@code
 * try {
 *   handle(client.checkAndInsert("orders", ids));
 * } catch (PartialBatchException e) {
 *   for (int i = 0; i < ids.size(); i++) {
 *     Decision d = e.decisions().get(i);
 *     if (d == null) redeliver(ids.get(i)); else handle(d);
 *   }
 * }
 * }</pre>
 */
public final class PartialBatchException extends DedupeException {

  private static final long serialVersionUID = 1L;

  private final transient List<Decision> decisions;

  /**
   * Creates an exception.
   *
   * @param message what was being done
   * @param status the status of one of the failed parts
   * @param decisions one entry per requested id, in request order; null where the id failed
   * @param cause one of the failed parts' exceptions
   */
  public PartialBatchException(
      String message, Status status, List<Decision> decisions, Throwable cause) {
    this(message, status, decisions, cause, List.of());
  }

  /**
   * Creates an exception for a multi-id CheckAndInsert, with the tokens its failed ids were
   * sent with ({@link #attemptTokens()}).
   *
   * @param message what was being done
   * @param status the status of one of the failed parts
   * @param decisions one entry per requested id, in request order; null where the id failed
   * @param cause one of the failed parts' exceptions
   * @param attemptTokens one entry per requested id, in request order: the token a failed id
   *     was sent with, null elsewhere
   * @throws NullPointerException if status, decisions or attemptTokens is null
   */
  public PartialBatchException(String message, Status status, List<Decision> decisions,
      Throwable cause, List<String> attemptTokens) {
    super(message, status, cause, attemptTokens);
    this.decisions = Collections.unmodifiableList(new java.util.ArrayList<>(decisions));
  }

  /**
   * One entry per requested id, in request order: the decision, or null where that id failed.
   * Unmodifiable.
   */
  public List<Decision> decisions() {
    return decisions == null ? List.of() : decisions;
  }
}
