package dev.dedupe.client;

/**
 * The side effect {@link DedupeClient#onceEach} runs for each message whose id is new.
 *
 * @param <M> the message type
 */
@FunctionalInterface
public interface EachAction<M> {

  /**
   * Performs the side effect for {@code message}.
   *
   * @return the bytes to store with the id (handed to later deliveries as the stored result),
   *     or null for none; at most the server's result limit (4 KiB by default)
   * @throws Exception to have the lease released and the message redelivered
   */
  byte[] run(M message) throws Exception;
}
