package dev.dedupe.loadbench;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonException;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import jakarta.json.JsonWriter;
import jakarta.json.JsonWriterFactory;
import jakarta.json.stream.JsonGenerator;
import java.io.StringReader;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link BenchResult} as the JSON of a result file, and back, with jakarta.json (the API and
 * the implementation, Eclipse Parsson, that the server uses for its ZooKeeper data).
 *
 * <p>Each field is named here, once for writing and once for reading, with the names of the
 * record components (the files written before this class, by a reflective binder over Gson,
 * used those names, and they must still load). A number that must be a whole number is read
 * exactly; a field missing from a file fails the read, naming it, except the objects that may
 * be null ({@code redis}, {@code redisFigures}), {@code comparison} (the --vs-redis suite's, absent
 * from growth runs) and {@code format} (absent in files written before it: format 1).
 */
final class ResultJson {

  private static final JsonWriterFactory PRETTY =
      Json.createWriterFactory(Map.of(JsonGenerator.PRETTY_PRINTING, true));

  private ResultJson() {}

  /** The result as pretty-printed JSON, ending in a newline. */
  static String write(BenchResult result) {
    JsonObjectBuilder o = Json.createObjectBuilder()
        .add("format", BenchResult.FORMAT)
        .add("environment", strings(result.environment()))
        .add("settings", strings(result.settings()));
    JsonArrayBuilder steps = Json.createArrayBuilder();
    result.steps().forEach(s -> steps.add(step(s)));
    o.add("steps", steps);
    JsonArrayBuilder notes = Json.createArrayBuilder();
    result.notes().forEach(notes::add);
    o.add("notes", notes);
    if (result.comparison() != null) {
      o.add("comparison", comparison(result.comparison()));
    }
    StringWriter text = new StringWriter();
    try (JsonWriter writer = PRETTY.createWriter(text)) {
      writer.writeObject(o.build());
    }
    return text.toString().strip() + "\n";
  }

  /**
   * Reads a result file's text.
   *
   * @param source names the file in error messages
   * @throws IllegalArgumentException if the text is no JSON, a field is missing or of the wrong
   *     type, or the file is of a newer format than this code reads
   */
  static BenchResult read(String json, String source) {
    JsonObject o;
    try (var reader = Json.createReader(new StringReader(json))) {
      o = reader.readObject();
    } catch (JsonException | IllegalStateException e) {
      throw new IllegalArgumentException(source + " is no JSON result object: " + e.getMessage(), e);
    }
    Fields f = new Fields(o, source);
    long format = o.containsKey("format") ? f.longOf("format") : 1;
    if (format > BenchResult.FORMAT) {
      throw new IllegalArgumentException(source + " has result format " + format
          + "; this bench reads format " + BenchResult.FORMAT + " and older");
    }
    List<BenchResult.Step> steps = new ArrayList<>();
    for (JsonObject s : f.objects("steps")) {
      steps.add(step(new Fields(s, source + ": steps[" + steps.size() + "]")));
    }
    Fields c = f.objectOrNull("comparison");
    return new BenchResult(f.strings("environment"), f.strings("settings"), List.copyOf(steps),
        f.stringList("notes"), c == null ? null : comparison(c));
  }

  /**
   * The suite's measurements, and the medians computed from them for readers of the file (only
   * the measurements are read back: the medians follow from them).
   */
  private static JsonObjectBuilder comparison(BenchResult.Comparison c) {
    JsonArrayBuilder workloads = Json.createArrayBuilder();
    c.workloads().forEach(workloads::add);
    JsonArrayBuilder targets = Json.createArrayBuilder();
    c.targets().forEach(targets::add);
    JsonArrayBuilder measurements = Json.createArrayBuilder();
    for (BenchResult.Measurement m : c.measurements()) {
      measurements.add(Json.createObjectBuilder()
          .add("round", m.round())
          .add("workload", m.workload())
          .add("target", m.target())
          .add("seconds", m.seconds())
          .add("calls", m.calls())
          .add("ids", m.ids())
          .add("duplicateIds", m.duplicateIds())
          .add("errors", m.errors())
          .add("idsPerSecond", m.idsPerSecond())
          .add("p50Millis", m.p50Millis())
          .add("p99Millis", m.p99Millis())
          .add("serverCpuSeconds", m.serverCpuSeconds())
          .add("serverCpuMicrosPerId", m.serverCpuMicrosPerId())
          .add("loadAverage", m.loadAverage())
          .add("otherCpus", m.otherCpus()));
    }
    JsonArrayBuilder medians = Json.createArrayBuilder();
    for (SuiteSummary.Row r : SuiteSummary.of(c.measurements())) {
      medians.add(Json.createObjectBuilder()
          .add("workload", r.workload())
          .add("target", r.target())
          .add("rounds", r.rounds())
          .add("idsPerSecond", r.idsPerSecond())
          .add("minIdsPerSecond", r.minIdsPerSecond())
          .add("maxIdsPerSecond", r.maxIdsPerSecond())
          .add("p50Millis", r.p50Millis())
          .add("p99Millis", r.p99Millis())
          .add("serverCpuMicrosPerId", r.serverCpuMicrosPerId())
          .add("loadAverage", r.loadAverage())
          .add("otherCpus", r.otherCpus())
          .add("maxOtherCpus", r.maxOtherCpus())
          .add("errors", r.errors()));
    }
    return Json.createObjectBuilder()
        .add("rounds", c.rounds())
        .add("workloads", workloads)
        .add("targets", targets)
        .add("measurements", measurements)
        .add("medians", medians);
  }

  private static BenchResult.Comparison comparison(Fields c) {
    List<BenchResult.Measurement> measurements = new ArrayList<>();
    for (JsonObject o : c.objects("measurements")) {
      Fields m = new Fields(o, c.where() + ".measurements[" + measurements.size() + "]");
      measurements.add(new BenchResult.Measurement(
          m.intOf("round"),
          m.string("workload"),
          m.string("target"),
          m.doubleOf("seconds"),
          m.longOf("calls"),
          m.longOf("ids"),
          m.longOf("duplicateIds"),
          m.longOf("errors"),
          m.doubleOf("idsPerSecond"),
          m.doubleOf("p50Millis"),
          m.doubleOf("p99Millis"),
          m.doubleOf("serverCpuSeconds"),
          m.doubleOf("loadAverage"),
          m.doubleOf("otherCpus")));
    }
    return new BenchResult.Comparison(c.intOf("rounds"), c.stringList("workloads"),
        c.stringList("targets"), List.copyOf(measurements));
  }

  private static JsonObjectBuilder strings(Map<String, String> map) {
    JsonObjectBuilder o = Json.createObjectBuilder();
    map.forEach((k, v) -> {
      if (v == null) {
        o.addNull(k);
      } else {
        o.add(k, v);
      }
    });
    return o;
  }

  private static JsonObjectBuilder step(BenchResult.Step s) {
    JsonObjectBuilder o = Json.createObjectBuilder()
        .add("targetKeys", s.targetKeys())
        .add("dedupe", phase(s.dedupe()));
    if (s.redis() == null) {
      o.addNull("redis");
    } else {
      o.add("redis", phase(s.redis()));
    }
    BenchResult.ServerFigures f = s.server();
    o.add("server", Json.createObjectBuilder()
        .add("keysHeld", f.keysHeld())
        .add("diskBytes", f.diskBytes())
        .add("sstBytes", f.sstBytes())
        .add("walBytes", f.walBytes())
        .add("rssBytes", f.rssBytes())
        .add("heapCommittedBytes", f.heapCommittedBytes())
        .add("blockCacheBytes", f.blockCacheBytes())
        .add("memtableBytes", f.memtableBytes())
        .add("compactionWriteBytes", f.compactionWriteBytes())
        .add("stallMicros", f.stallMicros())
        .add("walSyncs", f.walSyncs())
        .add("freshRssBytes", f.freshRssBytes())
        .add("freshBeyondCachesBytes", f.freshBeyondCachesBytes()));
    BenchResult.RedisFigures r = s.redisFigures();
    if (r == null) {
      o.addNull("redisFigures");
    } else {
      JsonObjectBuilder rf = Json.createObjectBuilder()
          .add("keys", r.keys())
          .add("usedMemoryBytes", r.usedMemoryBytes())
          .add("rssBytes", r.rssBytes())
          .add("forksDuringRun", r.forksDuringRun());
      if (r.persistence() == null) {
        rf.addNull("persistence");
      } else {
        rf.add("persistence", r.persistence());
      }
      o.add("redisFigures", rf);
    }
    return o;
  }

  private static JsonObjectBuilder phase(BenchResult.Phase p) {
    return Json.createObjectBuilder()
        .add("system", p.system())
        .add("keysBefore", p.keysBefore())
        .add("keysAfter", p.keysAfter())
        .add("batch", p.batch())
        .add("inFlight", p.inFlight())
        .add("seconds", p.seconds())
        .add("requests", p.requests())
        .add("ids", p.ids())
        .add("newIds", p.newIds())
        .add("duplicateIds", p.duplicateIds())
        .add("errors", p.errors())
        .add("idsPerSecond", p.idsPerSecond())
        .add("p50Millis", p.p50Millis())
        .add("p99Millis", p.p99Millis())
        .add("p999Millis", p.p999Millis())
        .add("maxMillis", p.maxMillis())
        .add("serverCpuSeconds", p.serverCpuSeconds())
        .add("clientCpuSeconds", p.clientCpuSeconds())
        .add("otherCpuSeconds", p.otherCpuSeconds());
  }

  private static BenchResult.Step step(Fields s) {
    Fields server = s.object("server");
    Fields redisFigures = s.objectOrNull("redisFigures");
    return new BenchResult.Step(
        s.longOf("targetKeys"),
        phase(s.object("dedupe")),
        s.objectOrNull("redis") == null ? null : phase(s.objectOrNull("redis")),
        new BenchResult.ServerFigures(
            server.longOf("keysHeld"),
            server.longOf("diskBytes"),
            server.longOf("sstBytes"),
            server.longOf("walBytes"),
            server.longOf("rssBytes"),
            server.longOf("heapCommittedBytes"),
            server.longOf("blockCacheBytes"),
            server.longOf("memtableBytes"),
            server.longOf("compactionWriteBytes"),
            server.longOf("stallMicros"),
            server.longOf("walSyncs"),
            server.longOf("freshRssBytes"),
            server.longOf("freshBeyondCachesBytes")),
        redisFigures == null ? null : new BenchResult.RedisFigures(
            redisFigures.longOf("keys"),
            redisFigures.longOf("usedMemoryBytes"),
            redisFigures.longOf("rssBytes"),
            redisFigures.longOf("forksDuringRun"),
            redisFigures.stringOrNull("persistence")));
  }

  private static BenchResult.Phase phase(Fields p) {
    return new BenchResult.Phase(
        p.string("system"),
        p.longOf("keysBefore"),
        p.longOf("keysAfter"),
        p.intOf("batch"),
        p.intOf("inFlight"),
        p.doubleOf("seconds"),
        p.longOf("requests"),
        p.longOf("ids"),
        p.longOf("newIds"),
        p.longOf("duplicateIds"),
        p.longOf("errors"),
        p.doubleOf("idsPerSecond"),
        p.doubleOf("p50Millis"),
        p.doubleOf("p99Millis"),
        p.doubleOf("p999Millis"),
        p.doubleOf("maxMillis"),
        p.doubleOf("serverCpuSeconds"),
        p.doubleOf("clientCpuSeconds"),
        p.doubleOf("otherCpuSeconds"));
  }

  /** The fields of one JSON object, read with messages that name the file and the field. */
  private record Fields(JsonObject json, String where) {

    JsonValue value(String name) {
      JsonValue v = json.get(name);
      if (v == null) {
        throw new IllegalArgumentException(where + " lacks the field '" + name + "'");
      }
      return v;
    }

    private <T extends JsonValue> T typed(String name, Class<T> type, String what) {
      JsonValue v = value(name);
      if (!type.isInstance(v)) {
        throw new IllegalArgumentException(
            where + ": '" + name + "' must be " + what + ", was " + v.getValueType());
      }
      return type.cast(v);
    }

    long longOf(String name) {
      try {
        return typed(name, JsonNumber.class, "a number").longValueExact();
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException(
            where + ": '" + name + "' must be a whole number, was " + json.get(name), e);
      }
    }

    int intOf(String name) {
      try {
        return typed(name, JsonNumber.class, "a number").intValueExact();
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException(
            where + ": '" + name + "' must be a whole number, was " + json.get(name), e);
      }
    }

    double doubleOf(String name) {
      return typed(name, JsonNumber.class, "a number").doubleValue();
    }

    String string(String name) {
      return typed(name, JsonString.class, "a string").getString();
    }

    String stringOrNull(String name) {
      return json.get(name) == null || json.isNull(name) ? null : string(name);
    }

    Fields object(String name) {
      return new Fields(typed(name, JsonObject.class, "an object"), where + ": " + name);
    }

    Fields objectOrNull(String name) {
      return json.get(name) == null || json.isNull(name) ? null : object(name);
    }

    List<JsonObject> objects(String name) {
      List<JsonObject> list = new ArrayList<>();
      JsonArray array = typed(name, JsonArray.class, "an array");
      for (int i = 0; i < array.size(); i++) {
        if (!(array.get(i) instanceof JsonObject element)) {
          throw new IllegalArgumentException(where + ": " + name + "[" + i + "] must be an object");
        }
        list.add(element);
      }
      return list;
    }

    List<String> stringList(String name) {
      List<String> list = new ArrayList<>();
      JsonArray array = typed(name, JsonArray.class, "an array");
      for (int i = 0; i < array.size(); i++) {
        if (!(array.get(i) instanceof JsonString s)) {
          throw new IllegalArgumentException(where + ": " + name + "[" + i + "] must be a string");
        }
        list.add(s.getString());
      }
      return List.copyOf(list);
    }

    /** A string-to-string object, in file order; a null value stays null. */
    Map<String, String> strings(String name) {
      Map<String, String> map = new LinkedHashMap<>();
      typed(name, JsonObject.class, "an object").forEach((k, v) -> {
        if (v.getValueType() == JsonValue.ValueType.NULL) {
          map.put(k, null);
        } else if (v instanceof JsonString s) {
          map.put(k, s.getString());
        } else {
          throw new IllegalArgumentException(where + ": " + name + "." + k + " must be a string");
        }
      });
      return map;
    }
  }
}
