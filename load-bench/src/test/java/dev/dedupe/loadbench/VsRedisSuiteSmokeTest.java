package dev.dedupe.loadbench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole --vs-redis suite, tiny: one round of two workloads (the raw single-id one and the
 * Java client's), a second each, against a node it starts and a private redis-server. Proves
 * the wiring (targets, switching appendfsync, files written), not any figure.
 *
 * <p>Skipped, saying why, without redis-server on the PATH or without a built server to start
 * (its class path is server/target/classpath.txt, which {@code ./mvnw package} writes).
 */
class VsRedisSuiteSmokeTest {

  @Test
  @Timeout(120)
  void oneTinyRoundWritesTheResultTheTableAndTheDocBlock(@TempDir Path dir) throws Exception {
    Assumptions.assumeTrue(RedisServer.find().isPresent(),
        "redis-server is not on the PATH: the --vs-redis suite smoke test is skipped");
    Path server = Path.of("").toAbsolutePath().getParent().resolve("server/target");
    Path classpath = server.resolve("classpath.txt");
    Assumptions.assumeTrue(Files.exists(classpath) && Files.isDirectory(server.resolve("classes")),
        "the server is not built (no " + classpath + "): the --vs-redis suite smoke test is"
            + " skipped; run ./mvnw -DskipTests package first");
    String before = System.getProperty(EmbeddedServer.SERVER_CLASSPATH_PROPERTY);
    System.setProperty(EmbeddedServer.SERVER_CLASSPATH_PROPERTY,
        server.resolve("classes") + ":" + Files.readString(classpath).strip());
    Path doc = dir.resolve("benchmarks.md");
    Files.writeString(doc, "# Benchmarks\n\n" + DocBlock.BEGIN + "\nnot yet run\n" + DocBlock.END
        + "\n\nthe rest\n");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code;
    try {
      code = Main.run(new String[] {"--vs-redis", "--rounds", "1",
          "--workloads", "single-16,client-16", "--duration", "1s", "--warmup", "500ms",
          "--quiet-wait", "0", "--server-java-opts", "-Xms256m -Xmx256m",
          "--server-set", "storage.block-cache.bytes=32MiB",
          "--server-set", "storage.write-buffer.bytes=32MiB",
          "--out", dir.resolve("out").toString(), "--write-doc", doc.toString()},
          new PrintStream(out, true, StandardCharsets.UTF_8),
          new PrintStream(err, true, StandardCharsets.UTF_8));
    } finally {
      if (before == null) {
        System.clearProperty(EmbeddedServer.SERVER_CLASSPATH_PROPERTY);
      } else {
        System.setProperty(EmbeddedServer.SERVER_CLASSPATH_PROPERTY, before);
      }
    }
    String printed = out.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, printed + err.toString(StandardCharsets.UTF_8));
    for (String progress : List.of("round 1/1  single-16    dedupe",
        "round 1/1  single-16    redis-always", "round 1/1  single-16    redis-everysec",
        "round 1/1  client-16    dedupe")) {
      assertTrue(printed.contains(progress), progress + " not in:\n" + printed);
    }

    BenchResult result = BenchResult.readFrom(dir.resolve("out/result.json"));
    List<BenchResult.Measurement> ms = result.comparison().measurements();
    assertEquals(4, ms.size(), ms.toString());
    for (BenchResult.Measurement m : ms) {
      assertTrue(m.ids() > 0 && m.idsPerSecond() > 0, m.toString());
      assertEquals(0, m.errors(), m.toString());
      assertTrue(m.serverCpuMicrosPerId() > 0, "a local server's CPU is known: " + m);
    }
    assertEquals(List.of("dedupe", "redis-always", "redis-everysec"), result.comparison().targets());

    String table = Files.readString(dir.resolve("out/comparison.md"));
    assertTrue(table.contains("| `single-16` |"), table);
    assertTrue(table.contains("raw single-16**"), table);
    String updated = Files.readString(doc);
    assertTrue(updated.startsWith("# Benchmarks\n\n" + DocBlock.BEGIN + "\nMeasured "), updated);
    assertTrue(updated.endsWith(DocBlock.END + "\n\nthe rest\n"), updated);
    assertTrue(updated.contains("bin/dedupe bench --vs-redis --rounds 1"), updated);
  }
}
