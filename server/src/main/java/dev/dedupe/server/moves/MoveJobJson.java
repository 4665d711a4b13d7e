package dev.dedupe.server.moves;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;

/**
 * A job znode's data: {@code {"kind":"MOVE","shard":3,"from":"n1","to":"n4","phase":"CATCH_UP",
 * "state":"RUNNING","cancel":false,"created":ms,"updated":ms,"bytesCopied":-1,"bytesTotal":-1,
 * "error":"","plan":""}}. The id is the znode's name, not part of the data. Unknown fields
 * are ignored, so that a later version may add some.
 */
public final class MoveJobJson {

  private MoveJobJson() {}

  public static byte[] toJson(MoveJob job) {
    return Json.createObjectBuilder()
        .add("kind", job.kind().name())
        .add("shard", job.shard())
        .add("from", job.from())
        .add("to", job.to())
        .add("phase", job.phase().name())
        .add("state", job.state().name())
        .add("cancel", job.cancelRequested())
        .add("created", job.createdMillis())
        .add("updated", job.updatedMillis())
        .add("bytesCopied", job.bytesCopied())
        .add("bytesTotal", job.bytesTotal())
        .add("error", job.lastError())
        .add("plan", job.planId())
        .build().toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * @throws IllegalArgumentException if the data is not a job
   */
  public static MoveJob fromJson(String id, byte[] data) {
    try (JsonReader reader = Json.createReader(
        new StringReader(new String(data, StandardCharsets.UTF_8)))) {
      JsonObject o = reader.readObject();
      return new MoveJob(id, MoveKind.valueOf(o.getString("kind")), o.getInt("shard"),
          o.getString("from", ""), o.getString("to"), MovePhase.valueOf(o.getString("phase")),
          MoveState.valueOf(o.getString("state")), o.getBoolean("cancel", false),
          o.getJsonNumber("created").longValueExact(), o.getJsonNumber("updated").longValueExact(),
          o.containsKey("bytesCopied") ? o.getJsonNumber("bytesCopied").longValueExact() : -1,
          o.containsKey("bytesTotal") ? o.getJsonNumber("bytesTotal").longValueExact() : -1,
          o.getString("error", ""), o.getString("plan", ""));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("move " + id + "'s znode holds no valid job: "
          + new String(data, StandardCharsets.UTF_8), e);
    }
  }
}
