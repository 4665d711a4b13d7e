package dev.dedupe.loadbench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * One scrape of a node's ops port ({@code /metrics}, Prometheus text): each metric name with
 * its value summed over its label sets.
 */
final class OpsMetrics {

  private final Map<String, Double> values;

  private OpsMetrics(Map<String, Double> values) {
    this.values = values;
  }

  /** Scrapes {@code host:port}; on failure, an empty scrape whose values are all -1. */
  static OpsMetrics scrape(String opsAddress) {
    try {
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      HttpResponse<String> response = http.send(
          HttpRequest.newBuilder(URI.create("http://" + opsAddress + "/metrics"))
              .timeout(Duration.ofSeconds(30)).build(),
          HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200) {
        return new OpsMetrics(Map.of());
      }
      return parse(response.body());
    } catch (IOException e) {
      return new OpsMetrics(Map.of());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new OpsMetrics(Map.of());
    }
  }

  static OpsMetrics parse(String text) {
    Map<String, Double> values = new HashMap<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int brace = line.indexOf('{');
      int space = line.lastIndexOf(' ');
      if (space <= 0) {
        continue;
      }
      String name = line.substring(0, brace > 0 && brace < space ? brace : line.indexOf(' '));
      try {
        values.merge(name, Double.parseDouble(line.substring(space + 1).trim()), Double::sum);
      } catch (NumberFormatException e) {
        // a sample we do not read
      }
    }
    return new OpsMetrics(values);
  }

  /** The metric's value, or -1 when the scrape did not have it. */
  long value(String name) {
    Double v = values.get(name);
    return v == null ? -1 : Math.round(v);
  }
}
