package dev.dedupe.server.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The server's packages depend on each other without a cycle, read from the sources' imports:
 * a package can then be read, tested and replaced from the bottom up. The result types live
 * in {@code decision}, which depends on no other package of the server.
 */
class PackageGraphTest {

  private static final Path SOURCES = Path.of("src/main/java/dev/dedupe/server");
  private static final Pattern IMPORT =
      Pattern.compile("^import (?:static )?dev\\.dedupe\\.server\\.([a-z]+)\\.", Pattern.MULTILINE);

  @Test
  void thePackagesFormNoCycle() throws IOException {
    Map<String, Set<String>> graph = graph();
    assertTrue(graph.size() > 5, "read too few packages: " + graph.keySet());
    List<String> cycle = findCycle(graph);
    assertEquals(List.of(), cycle, "package cycle " + String.join(" -> ", cycle) + "\n" + graph);
  }

  @Test
  void theDecisionVocabularyDependsOnNoOtherPackage() throws IOException {
    assertEquals(Set.of(), graph().get("decision"));
  }

  private static Map<String, Set<String>> graph() throws IOException {
    Map<String, Set<String>> graph = new TreeMap<>();
    try (Stream<Path> files = Files.walk(SOURCES)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        Path relative = SOURCES.relativize(file);
        if (relative.getNameCount() < 2) {
          continue; // the root package (DedupeNode) wires everything; it is nobody's dependency
        }
        String pkg = relative.getName(0).toString();
        Set<String> uses = graph.computeIfAbsent(pkg, p -> new TreeSet<>());
        Matcher m = IMPORT.matcher(Files.readString(file));
        while (m.find()) {
          if (!m.group(1).equals(pkg)) {
            uses.add(m.group(1));
          }
        }
      }
    }
    return graph;
  }

  /** A cycle as the packages along it (first repeated at the end), or an empty list. */
  private static List<String> findCycle(Map<String, Set<String>> graph) {
    Set<String> done = new TreeSet<>();
    for (String start : graph.keySet()) {
      Deque<String> path = new ArrayDeque<>();
      List<String> cycle = visit(start, graph, path, done);
      if (!cycle.isEmpty()) {
        return cycle;
      }
    }
    return List.of();
  }

  private static List<String> visit(
      String pkg, Map<String, Set<String>> graph, Deque<String> path, Set<String> done) {
    if (path.contains(pkg)) {
      List<String> cycle = new ArrayList<>(path).reversed();
      cycle = new ArrayList<>(cycle.subList(cycle.indexOf(pkg), cycle.size()));
      cycle.add(pkg);
      return cycle;
    }
    if (done.contains(pkg)) {
      return List.of();
    }
    path.push(pkg);
    for (String next : graph.getOrDefault(pkg, Set.of())) {
      List<String> cycle = visit(next, graph, path, done);
      if (!cycle.isEmpty()) {
        return cycle;
      }
    }
    path.pop();
    done.add(pkg);
    return List.of();
  }
}
