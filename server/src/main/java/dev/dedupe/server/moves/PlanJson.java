package dev.dedupe.server.moves;

import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A plan znode's data: {@code {"kind":"DRAIN","node":"n2","maxConcurrent":2,"state":"RUNNING",
 * "cancel":false,"ready":true,"created":ms,"updated":ms,"summary":{"total":5,"done":1,
 * "failed":0,"cancelled":0},"note":"","steps":[{"kind":"MOVE","shard":3,"from":"n2","to":"n4",
 * "expect":["n1","n2","n3"]},...]}}. The id is the znode's name. Unknown fields are ignored.
 */
public final class PlanJson {

  private PlanJson() {}

  public static byte[] toJson(Plan plan) {
    JsonArrayBuilder steps = Json.createArrayBuilder();
    for (PlannedStep s : plan.steps()) {
      JsonArrayBuilder expect = Json.createArrayBuilder();
      s.expectedReplicas().forEach(expect::add);
      steps.add(Json.createObjectBuilder().add("kind", s.kind().name()).add("shard", s.shard())
          .add("from", s.from()).add("to", s.to()).add("expect", expect));
    }
    return Json.createObjectBuilder()
        .add("kind", plan.kind().name())
        .add("node", plan.node())
        .add("maxConcurrent", plan.maxConcurrent())
        .add("state", plan.state().name())
        .add("cancel", plan.cancelRequested())
        .add("ready", plan.ready())
        .add("created", plan.createdMillis())
        .add("updated", plan.updatedMillis())
        .add("summary", Json.createObjectBuilder().add("total", plan.jobsTotal())
            .add("done", plan.jobsDone()).add("failed", plan.jobsFailed())
            .add("cancelled", plan.jobsCancelled()))
        .add("note", plan.note())
        .add("steps", steps)
        .build().toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * @throws IllegalArgumentException if the data is not a plan
   */
  public static Plan fromJson(String id, byte[] data) {
    try (JsonReader reader = Json.createReader(
        new StringReader(new String(data, StandardCharsets.UTF_8)))) {
      JsonObject o = reader.readObject();
      JsonObject summary = o.getJsonObject("summary");
      List<PlannedStep> steps = new ArrayList<>();
      for (JsonValue v : o.getJsonArray("steps")) {
        JsonObject s = v.asJsonObject();
        steps.add(new PlannedStep(MoveKind.valueOf(s.getString("kind")), s.getInt("shard"),
            s.getString("from", ""), s.getString("to"), s.getJsonArray("expect").stream()
                .map(e -> ((JsonString) e).getString()).toList()));
      }
      return new Plan(id, PlanKind.valueOf(o.getString("kind")), o.getString("node", ""),
          o.getInt("maxConcurrent"), PlanState.valueOf(o.getString("state")),
          o.getBoolean("cancel", false), o.getBoolean("ready", false),
          o.getJsonNumber("created").longValueExact(), o.getJsonNumber("updated").longValueExact(),
          summary.getInt("total"), summary.getInt("done"), summary.getInt("failed"),
          summary.getInt("cancelled", 0), o.getString("note", ""), steps);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("plan " + id + "'s znode holds no valid plan: "
          + new String(data, StandardCharsets.UTF_8), e);
    }
  }
}
