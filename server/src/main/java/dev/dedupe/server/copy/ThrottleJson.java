package dev.dedupe.server.copy;

import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;

/** A throttle znode's data: {@code {"bytes_per_second":N,"set_millis":ms}}. */
public final class ThrottleJson {

  private ThrottleJson() {}

  public static byte[] toJson(Throttle t) {
    return Json.createObjectBuilder()
        .add("bytes_per_second", t.bytesPerSecond())
        .add("set_millis", t.setMillis())
        .build().toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * @throws IllegalArgumentException if the data is not a throttle
   */
  public static Throttle fromJson(byte[] data) {
    try (JsonReader reader = Json.createReader(
        new StringReader(new String(data, StandardCharsets.UTF_8)))) {
      JsonObject o = reader.readObject();
      return new Throttle(o.getJsonNumber("bytes_per_second").longValueExact(),
          o.getJsonNumber("set_millis").longValueExact());
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("the throttle znode holds no valid throttle: "
          + new String(data, StandardCharsets.UTF_8), e);
    }
  }
}
