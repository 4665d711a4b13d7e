package dev.dedupe.server.rpc;

import dev.dedupe.server.decision.Unhandled;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

/**
 * One call's answers: this node's, for the ids it handed its engine, and each owner's, for
 * the ids forwarded to it. {@link #reply} merges them, and is the one place for the rule.
 *
 * @param <L> this node's answers, as its engine gave them
 */
final class RoutedAnswers<L, Resp> {

  /**
   * What one owner answered for its part: its reply, or why there is none.
   *
   * @param failure null when {@code reply} came, else what went wrong, in English
   */
  record OwnerAnswer<Resp>(IdSplit.OwnerPart part, Resp reply, String failure) {}

  private final PerIdRpc<?, Resp, ?> rpc;
  private final IdSplit split;
  private final L local;
  private final List<OwnerAnswer<Resp>> owners;

  RoutedAnswers(PerIdRpc<?, Resp, ?> rpc, IdSplit split, L local, List<OwnerAnswer<Resp>> owners) {
    this.rpc = rpc;
    this.split = split;
    this.local = local;
    this.owners = owners;
  }

  /**
   * The reply to the caller, one answer per id in request order. Answers that an owner gave
   * are passed through as they are, its own per-id UNAVAILABLE included (ownership may have
   * moved since this node read the map). The ids of an owner that gave no answer get what this
   * node would have answered them without forwarding, UNAVAILABLE with the owner hint, and a
   * reason that names the failure.
   *
   * @param localReply this node's reply for its own part of the ids
   */
  Resp reply(Function<L, Resp> localReply) {
    Resp here = localReply.apply(local);
    return split.isAllLocal() ? here : merge(rpc, here);
  }

  private <E> Resp merge(PerIdRpc<?, Resp, E> rpc, Resp here) {
    List<E> merged = new ArrayList<>(Collections.nCopies(split.total(), null));
    place(merged, split.localPositions(), rpc.items().apply(here));
    for (OwnerAnswer<Resp> answer : owners) {
      int[] at = answer.part().positions();
      if (answer.failure() == null) {
        place(merged, at, rpc.items().apply(answer.reply()));
        continue;
      }
      for (int i = 0; i < at.length; i++) {
        Unhandled why = answer.part().why().get(i);
        merged.set(at[i], rpc.unavailable().apply(
            IdStatuses.unavailable(why, why.reason() + "; " + answer.failure())));
      }
    }
    return rpc.assemble().apply(merged);
  }

  private static <E> void place(List<E> merged, int[] positions, List<E> items) {
    for (int i = 0; i < positions.length; i++) {
      merged.set(positions[i], items.get(i));
    }
  }
}
