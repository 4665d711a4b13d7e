package dev.dedupe.loadbench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One scrape of a node's ops port ({@code /metrics}, Prometheus text): a metric's value summed
 * over its label sets, or over those with one label's value.
 */
final class OpsMetrics {

  /** One sample line: its name, its label set as written ({@code a="1",b="2"}), its value. */
  private record Sample(String name, String labels, double value) {}

  private final List<Sample> samples;

  private OpsMetrics(List<Sample> samples) {
    this.samples = samples;
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
        return new OpsMetrics(List.of());
      }
      return parse(response.body());
    } catch (IOException e) {
      return new OpsMetrics(List.of());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new OpsMetrics(List.of());
    }
  }

  static OpsMetrics parse(String text) {
    List<Sample> samples = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int brace = line.indexOf('{');
      int space = line.lastIndexOf(' ');
      if (space <= 0) {
        continue;
      }
      boolean labelled = brace > 0 && brace < space;
      String name = line.substring(0, labelled ? brace : line.indexOf(' '));
      String labels = labelled ? line.substring(brace + 1, line.lastIndexOf('}', space)) : "";
      try {
        samples.add(new Sample(name, labels, Double.parseDouble(line.substring(space + 1).trim())));
      } catch (NumberFormatException e) {
        // a sample we do not read
      }
    }
    return new OpsMetrics(samples);
  }

  /** The metric's value summed over its label sets, or -1 when the scrape did not have it. */
  long value(String name) {
    Double v = sum(name, "");
    return v == null ? -1 : Math.round(v);
  }

  /**
   * The metric's value summed over the label sets that have {@code label="labelValue"}, or -1
   * when there are none ({@code jvm_memory_committed_bytes} with {@code area="heap"} is the
   * heap's committed bytes over all its pools).
   */
  long value(String name, String label, String labelValue) {
    Double v = sum(name, label + "=\"" + labelValue + "\"");
    return v == null ? -1 : Math.round(v);
  }

  /** A metric in seconds, in whole microseconds, or -1 when the scrape did not have it. */
  long micros(String name) {
    Double v = sum(name, "");
    return v == null ? -1 : Math.round(v * 1e6);
  }

  private Double sum(String name, String labelPair) {
    Double sum = null;
    for (Sample s : samples) {
      if (s.name().equals(name) && (labelPair.isEmpty() || hasLabel(s.labels(), labelPair))) {
        sum = (sum == null ? 0 : sum) + s.value();
      }
    }
    return sum;
  }

  private static boolean hasLabel(String labels, String pair) {
    int at = labels.indexOf(pair);
    return at >= 0 && (at == 0 || labels.charAt(at - 1) == ',');
  }
}
