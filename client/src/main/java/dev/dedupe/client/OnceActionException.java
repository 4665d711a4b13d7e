package dev.dedupe.client;

/**
 * The action given to {@link DedupeClient#once} threw. The client released the lease first (so
 * that a retry or a redelivery may run the action again), unless the release itself failed; then
 * the release's failure is attached with {@link #getSuppressed()} and the lease simply runs out.
 * The action's exception is the {@linkplain #getCause() cause}.
 *
 * <pre>{@code
 * try {
 *   client.once("emails", messageId, () -> mailer.send(mail));
 * } catch (OnceActionException e) {
 *   channel.basicNack(tag, false, true);   // redelivered later; the next once() runs it again
 * }
 * }</pre>
 */
public final class OnceActionException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** The namespace of the id. */
  private final String namespace;
  /** The id concerned. */
  private final String messageId;
  /** Whether the lease was released. */
  private final boolean released;

  /**
   * Creates an exception.
   *
   * @param namespace the id's namespace
   * @param messageId the id whose action failed
   * @param released whether the lease was released
   * @param cause what the action threw
   */
  public OnceActionException(
      String namespace, String messageId, boolean released, Throwable cause) {
    super("the action for id '" + messageId + "' in namespace '" + namespace + "' failed ("
        + (released ? "lease released, so a retry may run it again" 
            : "lease not released; a retry may run it once the lease runs out")
        + "): " + cause, cause);
    this.namespace = namespace;
    this.messageId = messageId;
    this.released = released;
  }

  /** The namespace of the id. */
  public String namespace() {
    return namespace;
  }

  /** The id whose action failed. */
  public String messageId() {
    return messageId;
  }

  /** Whether the lease was released (false: it runs out on its own). */
  public boolean released() {
    return released;
  }
}
