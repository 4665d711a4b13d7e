package dev.dedupe.server.copy;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;

/**
 * A copy znode's data: {@code {"shard":3,"follower":"n4","leader":"n1","snapshotting":true,
 * "bytes_copied":N,"bytes_total":N,"total_estimated":true,"bytes_per_second":N,
 * "lag_entries":N,"updated_millis":ms}}. Unknown fields are ignored, so a later version may
 * add some.
 */
public final class CopyProgressJson {

  private CopyProgressJson() {}

  public static byte[] toJson(CopyProgress p) {
    return Json.createObjectBuilder()
        .add("shard", p.shard())
        .add("follower", p.follower())
        .add("leader", p.leader())
        .add("snapshotting", p.snapshotting())
        .add("bytes_copied", p.bytesCopied())
        .add("bytes_total", p.bytesTotal())
        .add("total_estimated", p.totalEstimated())
        .add("bytes_per_second", p.bytesPerSecond())
        .add("lag_entries", p.lagEntries())
        .add("updated_millis", p.updatedMillis())
        .build().toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * @throws IllegalArgumentException if the data is not a copy's progress
   */
  public static CopyProgress fromJson(byte[] data) {
    try (JsonReader reader = Json.createReader(
        new StringReader(new String(data, StandardCharsets.UTF_8)))) {
      JsonObject o = reader.readObject();
      return new CopyProgress(o.getInt("shard"), o.getString("follower"),
          o.getString("leader"), o.getBoolean("snapshotting", false),
          o.getJsonNumber("bytes_copied").longValueExact(),
          o.getJsonNumber("bytes_total").longValueExact(),
          o.getBoolean("total_estimated", false),
          o.getJsonNumber("bytes_per_second").longValueExact(),
          o.getJsonNumber("lag_entries").longValueExact(),
          o.getJsonNumber("updated_millis").longValueExact());
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("a copy znode holds no valid progress: "
          + new String(data, StandardCharsets.UTF_8), e);
    }
  }
}
