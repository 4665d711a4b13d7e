package dev.dedupe.server.cli;

import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The answer for each id, printed as aligned columns for people or as one JSON array for
 * scripts. Knows whether any id failed, which decides the exit code.
 */
final class IdTable {

  /**
   * One id's answer.
   *
   * @param outcome the verdict or status word (NEW, DUPLICATE, OK, UNAVAILABLE, ...)
   * @param failed true when the id got no answer it can act on (unavailable, lease lost)
   * @param details named details in print order: text values, or Boolean flags
   */
  private record Row(String id, String outcome, boolean failed, Map<String, Object> details) {}

  private final List<Row> rows = new ArrayList<>();

  /** Adds an answer; {@code details} alternate name and value (a String, or a Boolean flag). */
  void add(String id, String outcome, boolean failed, Object... details) {
    Map<String, Object> named = new LinkedHashMap<>();
    for (int i = 0; i + 1 < details.length; i += 2) {
      if (details[i + 1] != null && !Boolean.FALSE.equals(details[i + 1])) {
        named.put((String) details[i], details[i + 1]);
      }
    }
    rows.add(new Row(id, outcome, failed, named));
  }

  /** Prints the table; returns the exit code: 0, or {@link Main#SOME_IDS_FAILED}. */
  int print(PrintWriter out, CallOptions.Output format) {
    if (format == CallOptions.Output.json) {
      printJson(out);
    } else {
      printText(out);
    }
    out.flush();
    return rows.stream().anyMatch(Row::failed) ? Main.SOME_IDS_FAILED : 0;
  }

  private void printText(PrintWriter out) {
    int idWidth = rows.stream().mapToInt(r -> r.id().length()).max().orElse(0);
    int outcomeWidth = rows.stream().mapToInt(r -> r.outcome().length()).max().orElse(0);
    for (Row r : rows) {
      StringBuilder line = new StringBuilder();
      line.append(pad(r.id(), idWidth)).append("  ").append(pad(r.outcome(), outcomeWidth));
      for (Map.Entry<String, Object> d : r.details().entrySet()) {
        line.append("  ").append(d.getValue() instanceof Boolean || d.getKey().equals("message")
            ? (d.getValue() instanceof Boolean ? label(d.getKey()) : d.getValue())
            : label(d.getKey()) + " " + d.getValue());
      }
      out.println(line.toString().stripTrailing());
    }
  }

  private void printJson(PrintWriter out) {
    JsonArrayBuilder array = Json.createArrayBuilder();
    for (Row r : rows) {
      JsonObjectBuilder o = Json.createObjectBuilder().add("id", r.id()).add("outcome", r.outcome());
      r.details().forEach((name, value) -> {
        if (value instanceof Boolean b) {
          o.add(name, b);
        } else {
          o.add(name, value.toString());
        }
      });
      array.add(o);
    }
    out.println(array.build());
  }

  /** A detail's name as text output shows it: first_seen reads "first seen". */
  private static String label(String name) {
    return name.replace('_', ' ');
  }

  private static String pad(String s, int width) {
    return s.length() >= width ? s : s + " ".repeat(width - s.length());
  }
}
