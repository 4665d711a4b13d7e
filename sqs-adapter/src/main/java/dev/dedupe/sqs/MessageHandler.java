package dev.dedupe.sqs;

import software.amazon.awssdk.services.sqs.model.Message;

/** The side effect a {@link DedupeSqsConsumer} runs for each message whose id is new. */
@FunctionalInterface
public interface MessageHandler {

  /**
   * Handles {@code message}: performs its side effect.
   *
   * @return the bytes to commit with the id (later duplicates are skipped; the bytes are what
   *     the first run returned), or null for none; at most the server's result limit (4 KiB by
   *     default)
   * @throws Exception to have the lease released and the message redelivered, up to the
   *     consumer's max receive count
   */
  byte[] handle(Message message) throws Exception;
}
