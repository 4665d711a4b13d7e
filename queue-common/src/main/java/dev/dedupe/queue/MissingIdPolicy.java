package dev.dedupe.queue;

/**
 * What a consumer does with a message that carries no id where the adapter was told to look.
 * Such a message never passes silently: it is either refused or given an id of its content.
 */
public enum MissingIdPolicy {
  /** Reject it to the dead-letter queue (counted as dead-lettered, reason {@code missing_id}). */
  DEAD_LETTER,
  /**
   * Use the SHA-256 of its body as its id ({@link BodyDigest#id}): two messages with the same
   * body are then the same message. Right for payloads that are themselves unique (a signed
   * event); wrong for "increment" messages whose repeats are meant.
   */
  BODY_DIGEST
}
