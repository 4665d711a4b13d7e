package dev.dedupe.queue;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 of a message body: its fingerprint, and its id under {@link MissingIdPolicy#BODY_DIGEST}. */
public final class BodyDigest {

  private BodyDigest() {}

  /** The 32-byte SHA-256 of {@code body}: a payload fingerprint the service takes (at most 64). */
  public static byte[] fingerprint(byte[] body) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(body);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  /** {@code sha256:} and the hex of the body's SHA-256: an id made of the content. */
  public static String id(byte[] body) {
    return "sha256:" + HexFormat.of().formatHex(fingerprint(body));
  }
}
