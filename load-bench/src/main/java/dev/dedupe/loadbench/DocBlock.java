package dev.dedupe.loadbench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The block of a Markdown file between {@code <!-- vs-redis:begin -->} and {@code <!--
 * vs-redis:end -->}, which {@code --write-doc} replaces with the suite's report and leaves the
 * rest of the file as it was. A file without the markers gets them, with the block, at its
 * end. Writing the same report twice gives the same file.
 */
final class DocBlock {

  static final String BEGIN = "<!-- vs-redis:begin -->";
  static final String END = "<!-- vs-redis:end -->";

  private DocBlock() {}

  /**
   * {@code doc} with the block between the markers replaced by {@code body}.
   *
   * @throws IllegalArgumentException if only one marker is there, or the end comes first
   */
  static String replace(String doc, String body) {
    String block = BEGIN + "\n" + body.strip() + "\n" + END;
    int begin = doc.indexOf(BEGIN);
    int end = doc.indexOf(END);
    if (begin < 0 && end < 0) {
      String head = doc.isEmpty() || doc.endsWith("\n\n") ? doc
          : doc.endsWith("\n") ? doc + "\n" : doc + "\n\n";
      return head + block + "\n";
    }
    if (begin < 0 || end < 0 || end < begin) {
      throw new IllegalArgumentException("the markers " + BEGIN + " and " + END
          + " must both be there, in that order");
    }
    return doc.substring(0, begin) + block + doc.substring(end + END.length());
  }

  /** Replaces the block in {@code file}; a missing file is made, holding only the block. */
  static void write(Path file, String body) {
    try {
      String doc = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
      String updated;
      try {
        updated = replace(doc, body);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
      }
      Files.writeString(file, updated, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }
}
