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

  /** The markers of the --replication suite's block. */
  static final String REPLICATION_BEGIN = "<!-- replication:begin -->";
  static final String REPLICATION_END = "<!-- replication:end -->";

  private DocBlock() {}

  /** {@link #replace(String, String)} for the vs-redis block. */
  static String replace(String doc, String body) {
    return replace(doc, body, BEGIN, END);
  }

  /** {@link #write(Path, String, String, String)} for the vs-redis block. */
  static void write(Path file, String body) {
    write(file, body, BEGIN, END);
  }

  /**
   * {@code doc} with the block between the markers replaced by {@code body}.
   *
   * @throws IllegalArgumentException if only one marker is there, or the end comes first
   */
  static String replace(String doc, String body, String beginMarker, String endMarker) {
    String block = beginMarker + "\n" + body.strip() + "\n" + endMarker;
    int begin = doc.indexOf(beginMarker);
    int end = doc.indexOf(endMarker);
    if (begin < 0 && end < 0) {
      String head = doc.isEmpty() || doc.endsWith("\n\n") ? doc
          : doc.endsWith("\n") ? doc + "\n" : doc + "\n\n";
      return head + block + "\n";
    }
    if (begin < 0 || end < 0 || end < begin) {
      throw new IllegalArgumentException("the markers " + beginMarker + " and " + endMarker
          + " must both be there, in that order");
    }
    return doc.substring(0, begin) + block + doc.substring(end + endMarker.length());
  }

  /** Replaces the block in {@code file}; a missing file is made, holding only the block. */
  static void write(Path file, String body, String beginMarker, String endMarker) {
    try {
      String doc = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
      String updated;
      try {
        updated = replace(doc, body, beginMarker, endMarker);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
      }
      Files.writeString(file, updated, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }
}
