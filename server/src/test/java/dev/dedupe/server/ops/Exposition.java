package dev.dedupe.server.ops;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * One scrape of an ops port's {@code /metrics}, parsed from the Prometheus text format: its
 * samples and its {@code # TYPE} lines. The tests read values by name and labels, so that they
 * do not depend on label order or on how a writer punctuates a label set.
 */
public record Exposition(String text, List<Sample> samples, Map<String, String> types) {

  /** One sample line: {@code name{labels} value}. */
  public record Sample(String name, Map<String, String> labels, double value) {}

  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  /** GETs {@code /metrics} on the ops port and parses it; fails unless the answer is 200. */
  public static Exposition scrape(int opsPort) throws Exception {
    HttpResponse<String> response = HTTP.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + opsPort + "/metrics"))
            .timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new AssertionError("GET /metrics answered " + response.statusCode() + ": " + response.body());
    }
    return parse(response.body());
  }

  /**
   * Scrapes until {@code condition} holds: a call is counted in {@code dedupe_requests_total}
   * just after its reply is sent, so a caller can see the reply before the count. Fails after
   * 30 s, a deadline only a very busy machine comes near.
   */
  public static Exposition scrapeUntil(int opsPort, Predicate<Exposition> condition) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    Exposition scrape = scrape(opsPort);
    while (!condition.test(scrape)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the condition did not hold within 30 s; last scrape:\n" + scrape.text());
      }
      Thread.sleep(20);
      scrape = scrape(opsPort);
    }
    return scrape;
  }

  static Exposition parse(String text) {
    List<Sample> samples = new ArrayList<>();
    Map<String, String> types = new HashMap<>();
    for (String line : text.split("\n")) {
      if (line.startsWith("# TYPE ")) {
        String[] parts = line.substring("# TYPE ".length()).trim().split(" +");
        types.put(parts[0], parts[1]);
      } else if (!line.isBlank() && !line.startsWith("#")) {
        samples.add(sample(line));
      }
    }
    return new Exposition(text, samples, types);
  }

  private static Sample sample(String line) {
    int i = 0;
    while (i < line.length() && line.charAt(i) != '{' && line.charAt(i) != ' ') {
      i++;
    }
    String name = line.substring(0, i);
    Map<String, String> labels = new LinkedHashMap<>();
    if (i < line.length() && line.charAt(i) == '{') {
      i++;
      while (line.charAt(i) != '}') {
        if (line.charAt(i) == ',' || line.charAt(i) == ' ') {
          i++;
          continue;
        }
        int eq = line.indexOf('=', i);
        String key = line.substring(i, eq);
        StringBuilder value = new StringBuilder();
        i = eq + 2; // past ="
        while (line.charAt(i) != '"') {
          char c = line.charAt(i++);
          if (c == '\\') {
            char escaped = line.charAt(i++);
            value.append(escaped == 'n' ? '\n' : escaped);
          } else {
            value.append(c);
          }
        }
        i++; // past the closing quote
        labels.put(key, value.toString());
      }
      i++; // past }
    }
    String value = line.substring(i).trim().split(" +")[0]; // a timestamp may follow
    return new Sample(name, labels, switch (value) {
      case "+Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      case "NaN" -> Double.NaN;
      default -> Double.parseDouble(value);
    });
  }

  /**
   * The sum of the samples called {@code name} whose labels include each of
   * {@code labelPairs} (key, value, key, value, ...), or null when there is none.
   */
  public Double value(String name, String... labelPairs) {
    Double sum = null;
    for (Sample s : samples) {
      if (s.name().equals(name) && matches(s.labels(), labelPairs)) {
        sum = (sum == null ? 0 : sum) + s.value();
      }
    }
    return sum;
  }

  private static boolean matches(Map<String, String> labels, String[] pairs) {
    for (int p = 0; p < pairs.length; p += 2) {
      if (!pairs[p + 1].equals(labels.get(pairs[p]))) {
        return false;
      }
    }
    return true;
  }
}
