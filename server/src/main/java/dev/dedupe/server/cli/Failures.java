package dev.dedupe.server.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Turns any failure of a command into the one line a person reads: what failed and, where it
 * can be told, why. The cases a newcomer met each have their own words: nothing listening at a
 * target, an unknown host, a data directory held by another process.
 */
final class Failures {

  private Failures() {}

  static String describe(Throwable failure) {
    Throwable e = unwrap(failure);
    if (e instanceof CommandFailure f) {
      return f.getMessage();
    }
    if (e instanceof StatusRuntimeException s) {
      return describe(s.getStatus(), "the node");
    }
    String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return message.lines().findFirst().orElse(message);
  }

  /** A gRPC status from {@code target}, in words. */
  static String describe(Status status, String target) {
    ConnectException refused = causeOf(status.getCause(), ConnectException.class);
    if (refused != null) {
      return "nothing listens at " + target + " (connection refused)";
    }
    UnknownHostException unknown = causeOf(status.getCause(), UnknownHostException.class);
    if (unknown != null) {
      return "cannot resolve the host of " + target + " (" + unknown.getMessage() + ")";
    }
    return switch (status.getCode()) {
      case DEADLINE_EXCEEDED -> target + " did not answer in time";
      case UNAVAILABLE -> target + " is unavailable: " + text(status);
      default -> target + " answered " + status.getCode() + ": " + text(status);
    };
  }

  private static String text(Status status) {
    String description = status.getDescription();
    if (description != null) {
      return description;
    }
    return status.getCause() == null ? "(no details)" : status.getCause().toString();
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private static <T extends Throwable> T causeOf(Throwable t, Class<T> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
    }
    return null;
  }

  /** A command failed for a reason already put in words for the person at the terminal. */
  static final class CommandFailure extends RuntimeException {
    CommandFailure(String message) {
      super(message);
    }

    CommandFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
