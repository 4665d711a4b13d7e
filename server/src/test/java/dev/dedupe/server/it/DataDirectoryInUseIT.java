package dev.dedupe.server.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A second node started on a data directory that a running node holds stops at once, saying
 * which process holds it: a newcomer running {@code bin/dedupe dev} twice met a RocksDB
 * "LOCK: Resource temporarily unavailable" stack trace instead.
 */
class DataDirectoryInUseIT {

  @TempDir Path dir;

  @Test
  void aSecondNodeOnTheSameDataDirectoryNamesTheProcessThatHoldsIt() throws Exception {
    Path data = dir.resolve("data");
    try (ServerProcess first = ServerProcess.start(data, dir.resolve("first.log"));
        ServerProcess second = startSecond(first, data)) {
      assertTrue(second.waitForExit(Duration.ofSeconds(120)), "the second node kept running");
      String said = Files.readString(dir.resolve("second.log"));
      assertEquals(1, second.exitCode(), said);
      assertTrue(said.contains("data directory " + data + " is in use by another process (pid "
          + first.pid() + ")"), said);
      assertFalse(said.contains("\tat "), "a stack trace reached the user:\n" + said);
      assertTrue(first.isAlive(), "the first node must be left alone");
    }
  }

  private static ServerProcess startSecond(ServerProcess first, Path data) {
    first.awaitServing(Duration.ofSeconds(120));
    return ServerProcess.start(data, data.resolveSibling("second.log"));
  }
}
