package dev.dedupe.server.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.dedupe.server.DedupeNode;
import dev.dedupe.server.config.ConfigKeys;
import dev.dedupe.server.testing.TestConfigs;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a newcomer typing the README's commands meets at the edges: wrong words are refused
 * with one line and exit 2, failures are one line and exit 1, per-id failures exit 3, and
 * nothing of a refused command line reaches a node. Against a real node over Netty.
 */
class CliTest {

  @TempDir static Path dir;
  private static DedupeNode node;
  private static String target;

  /** One command line's exit code and what it printed. */
  record Ran(int code, String out, String err) {
    void assertOneLineError() {
      assertFalse(err.contains("\tat "), "a stack trace reached the user:\n" + err);
      assertFalse(err.contains("Exception"), "an exception name reached the user:\n" + err);
    }
  }

  @BeforeAll
  static void startNode() {
    node = DedupeNode.start(TestConfigs.forDataDir(dir.resolve("node"), Map.of()),
        InstantSource.system());
    target = "127.0.0.1:" + node.grpcPort();
  }

  @AfterAll
  static void stopNode() {
    node.close();
  }

  static Ran run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Ran(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aThrottleRateWithoutAUnitPerSecondIsRefusedInOneLine() {
    for (String bad : new String[] {"50MiB", "50mb/s", "fast", "10B/s"}) {
      Ran ran = run("admin", "throttle", "set", "--target", target, bad);
      assertEquals(Main.USAGE, ran.code(), ran.toString());
      assertTrue(ran.err().startsWith("dedupe: Invalid value for positional parameter at index 0"
          + " (RATE): '" + bad + "' is "), ran.err());
      ran.assertOneLineError();
    }
    // A standalone node has no cluster to throttle: it says so in one line.
    Ran standalone = run("admin", "throttle", "set", "--target", target, "50MiB/s");
    assertEquals(Main.FAILED, standalone.code(), standalone.toString());
    assertTrue(standalone.err().contains("FAILED_PRECONDITION"), standalone.err());
    standalone.assertOneLineError();
  }

  @Test
  void anUnknownFlagIsRefusedAndNothingIsRecorded() {
    Ran ran = run("insert", "--tagret", target, "orders", "typo-1");
    assertEquals(Main.USAGE, ran.code(), ran.toString());
    assertTrue(ran.err().contains("Unknown option: '--tagret'"), ran.err());
    assertTrue(ran.err().contains("--target"), "suggests the flag meant: " + ran.err());
    ran.assertOneLineError();
    Ran check = run("check", "--target", target, "orders", "typo-1");
    assertTrue(check.out().matches("(?s)typo-1\\s+NEW.*"), check.out());
    Ran wrongNamespace = run("check", "--target", target, "--tagret", "typo-1");
    assertEquals(Main.USAGE, wrongNamespace.code());
  }

  @Test
  void answersAreAlignedColumnsOrJson() {
    Ran first = run("insert", "--target", target, "aligned", "a", "longer-id");
    assertEquals(0, first.code(), first.toString());
    List<String> lines = first.out().lines().toList();
    assertEquals(2, lines.size(), first.out());
    assertTrue(lines.get(0).startsWith("a          NEW  first seen "), lines.get(0));
    assertTrue(lines.get(1).startsWith("longer-id  NEW  first seen "), lines.get(1));

    Ran json = run("insert", "--target", target, "--output", "json", "aligned", "a", "b");
    assertEquals(0, json.code(), json.toString());
    JsonArray answers = Json.createReader(new StringReader(json.out())).readArray();
    assertEquals("a", answers.getJsonObject(0).getString("id"));
    assertEquals("DUPLICATE", answers.getJsonObject(0).getString("outcome"));
    assertEquals("NEW", answers.getJsonObject(1).getString("outcome"));
    assertTrue(answers.getJsonObject(1).containsKey("first_seen"));
  }

  @Test
  void statsPrintsTheTotalsThenOneRowPerNode() {
    assertEquals(0, run("insert", "--target", target, "counted", "a", "b").code());
    Ran text = run("stats", "--target", target, "counted");
    assertEquals(0, text.code(), text.toString());
    List<String> lines = text.out().lines().toList();
    assertTrue(lines.contains("asked             " + target), text.out());
    assertTrue(lines.contains("keys held         2"), text.out());
    assertTrue(lines.contains("nodes answered    1 of 1"), text.out());
    int header = lines.indexOf(lines.stream().filter(l -> l.startsWith("node ")).findFirst()
        .orElseThrow(() -> new AssertionError("no per-node table:\n" + text.out())));
    assertTrue(lines.get(header).matches(
        "node +address +keys held +bytes held +effective window +oldest bucket"), lines.get(header));
    String row = lines.get(header + 1);
    assertTrue(row.matches("- +" + java.util.regex.Pattern.quote(target) + " +2 +\\d+ +24h +\\S+"),
        "a standalone node's row: " + row);
    assertEquals(lines.get(header).indexOf("keys held"), row.indexOf(" 2 ") + 1,
        "the columns line up");

    Ran json = run("stats", "--target", target, "--output", "json", "counted");
    assertEquals(0, json.code(), json.toString());
    jakarta.json.JsonObject o = Json.createReader(new StringReader(json.out())).readObject();
    assertEquals("2", o.getString("keys_held"));
    assertEquals(target, o.getString("asked"));
    assertEquals("0", o.getString("nodes_unanswered"));
    JsonArray nodes = o.getJsonArray("nodes");
    assertEquals(1, nodes.size());
    assertEquals(target, nodes.getJsonObject(0).getString("address"));
    assertEquals("2", nodes.getJsonObject(0).getString("keys_held"));
    assertFalse(nodes.getJsonObject(0).containsKey("error"));
  }

  @Test
  void anIdThatFailedMakesTheExitCodeNonZero() {
    Ran commit = run("commit", "--target", target, "--token", "not-mine", "leases", "x");
    assertEquals(Main.SOME_IDS_FAILED, commit.code(), commit.toString());
    assertTrue(commit.out().startsWith("x  FAILED_PRECONDITION  lease lost"), commit.out());
  }

  @Test
  void aTargetWhereNothingListensSaysSo() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    Ran ran = run("insert", "--target", "127.0.0.1:" + closedPort, "orders", "x");
    assertEquals(Main.FAILED, ran.code(), ran.toString());
    assertEquals("dedupe: nothing listens at 127.0.0.1:" + closedPort + " (connection refused)",
        ran.err().strip());
  }

  @Test
  void aMalformedTargetOrNumberNamesTheFlag() {
    Ran target = run("insert", "--target", "::bad", "orders", "x");
    assertEquals(Main.USAGE, target.code());
    assertTrue(target.err().contains("--target must be HOST:PORT"), target.err());
    target.assertOneLineError();

    Ran port = run("dev", "--nodes", "3", "--zk-port", "abc");
    assertEquals(Main.USAGE, port.code());
    assertTrue(port.err().contains("--zk-port"), port.err());
    assertTrue(port.err().contains("'abc'"), port.err());
    port.assertOneLineError();
  }

  @Test
  void aBadSettingStopsTheServerWithOneLine() {
    Ran huge = run("server", "--data-dir", dir.resolve("never").toString(),
        "--set", "storage.disk-budget.bytes=99999999TiB");
    assertEquals(Main.FAILED, huge.code());
    assertEquals("dedupe: storage.disk-budget.bytes is too large: '99999999TiB' is over 8 EiB",
        huge.err().strip());

    Ran unknown = run("server", "--set", "storage.shard=4");
    assertEquals(Main.FAILED, unknown.code());
    assertTrue(unknown.err().contains("did you mean 'storage.shards'?"), unknown.err());
  }

  @Test
  void aStartOnATakenPortFailsWithOneLineAndLeavesNoDataDirectory() throws Exception {
    Path fresh = dir.resolve("fresh-" + System.nanoTime());
    try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      Ran ran = run("server", "--data-dir", fresh.toString(), "--set", "grpc.host=127.0.0.1",
          "--set", "ops.host=127.0.0.1", "--ops-port", "0",
          "--grpc-port", Integer.toString(taken.getLocalPort()));
      assertEquals(Main.FAILED, ran.code(), ran.toString());
      assertEquals(1, ran.err().lines().count(), ran.err());
      assertTrue(ran.err().contains("cannot start the gRPC server"), ran.err());
    }
    assertFalse(java.nio.file.Files.exists(fresh), "a failed start left " + fresh + " behind");
  }

  @Test
  void aSecondNodeOnTheSameDataDirectorySaysWhoHoldsIt() {
    Ran ran = run("server", "--data-dir", dir.resolve("node").toString(), "--grpc-port", "0",
        "--set", "storage.shards=4",
        "--ops-port", "0", "--set", "grpc.host=127.0.0.1", "--set", "ops.host=127.0.0.1");
    assertEquals(Main.FAILED, ran.code(), ran.toString());
    assertTrue(ran.err().contains("is already open in this process"), ran.err());
    assertEquals(1, ran.err().lines().count(), ran.err());
  }

  @Test
  void adminWithoutZooKeeperFailsWithOneLine() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    Ran ran = run("admin", "status", "--zk", "127.0.0.1:" + closedPort);
    assertEquals(Main.FAILED, ran.code(), ran.toString());
    assertTrue(ran.err().startsWith("dedupe: cannot reach ZooKeeper at 127.0.0.1:" + closedPort),
        ran.err());
    assertEquals(1, ran.err().lines().count(), ran.err());
  }

  @Test
  void moveCommandsOnAStandaloneNodeSayWhyInOneLine() {
    Ran moves = run("admin", "moves", "--target", target);
    assertEquals(Main.FAILED, moves.code(), moves.toString());
    assertTrue(moves.err().contains("FAILED_PRECONDITION: this node runs standalone"),
        moves.err());
    assertEquals(1, moves.err().lines().count(), moves.err());
    moves.assertOneLineError();
    Ran move = run("admin", "move", "--target", target, "--shard", "1", "--from", "a", "--to",
        "b");
    assertEquals(Main.FAILED, move.code(), move.toString());
    move.assertOneLineError();
    Ran missing = run("admin", "move", "--target", target, "--from", "a", "--to", "b");
    assertEquals(Main.USAGE, missing.code(), missing.toString());
    assertTrue(missing.err().contains("--shard"), missing.err());
    Ran notANumber = run("admin", "transfer-leader", "--target", target, "--shard", "x",
        "--to", "b");
    assertEquals(Main.USAGE, notANumber.code(), notANumber.toString());
    notANumber.assertOneLineError();
  }

  @Test
  void theMovesTableShowsEachJobOnOneRow() {
    java.time.Instant now = java.time.Instant.parse("2026-12-02T17:00:00Z");
    dev.dedupe.admin.v1.Move move = dev.dedupe.admin.v1.Move.newBuilder()
        .setMoveId("m-000007").setShard(3).setFromNode("node-1").setToNode("node-4")
        .setKind(dev.dedupe.admin.v1.MoveKind.MOVE_KIND_MOVE_REPLICA)
        .setPhase(dev.dedupe.admin.v1.MovePhase.MOVE_PHASE_CATCH_UP)
        .setState(dev.dedupe.admin.v1.MoveState.MOVE_STATE_RUNNING)
        .setCreateTime(com.google.protobuf.Timestamp.newBuilder()
            .setSeconds(now.getEpochSecond() - 312))
        .setBytesCopied(-1).setBytesTotal(-1)
        .setLastError("target node node-4 is not live").build();
    String table = MovesTable.render(List.of(move), now);
    assertTrue(table.lines().anyMatch(l -> l.matches(
        "m-000007\\s+3\\s+node-1 -> node-4\\s+CATCH_UP\\s+-\\s+-\\s+-\\s+-\\s+-\\s+5m12s")),
        table);
    assertTrue(table.lines().anyMatch(l -> l.matches("\\s+! target node node-4 is not live")),
        table);
    assertTrue(table.endsWith("1 move running\n"), table);
    assertEquals("no moves (none running, none kept)\n", MovesTable.render(List.of(), now));
  }

  @Test
  void theMovesTableShowsACopysProgressRateLagAndTimeLeftWithin100Columns() {
    java.time.Instant now = java.time.Instant.parse("2026-12-02T17:00:00Z");
    dev.dedupe.admin.v1.Move move = dev.dedupe.admin.v1.Move.newBuilder()
        .setMoveId("m-000012").setShard(11).setFromNode("node-1").setToNode("node-4")
        .setKind(dev.dedupe.admin.v1.MoveKind.MOVE_KIND_MOVE_REPLICA)
        .setPhase(dev.dedupe.admin.v1.MovePhase.MOVE_PHASE_LEADER_TRANSFER)
        .setState(dev.dedupe.admin.v1.MoveState.MOVE_STATE_RUNNING)
        .setCreateTime(com.google.protobuf.Timestamp.newBuilder()
            .setSeconds(now.getEpochSecond() - 3725))
        .setBytesCopied(3L << 20).setBytesTotal(6L << 20).setBytesTotalEstimated(true)
        .setCopyRateBytesPerSecond(1L << 20).setLagEntries(1234)
        .setCopyUpdateTime(com.google.protobuf.Timestamp.newBuilder()
            .setSeconds(now.getEpochSecond() - 1)).build();
    dev.dedupe.admin.v1.Throttle throttle = dev.dedupe.admin.v1.Throttle.newBuilder()
        .setBytesPerSecond(50L << 20).build();
    String table = MovesTable.render(List.of(move), throttle, now);
    assertTrue(table.lines().anyMatch(l -> l.matches("m-000012\\s+11\\s+node-1 -> node-4\\s+"
        + "LEADER_TRANSFER\\s+###\\.\\.\\. 50%\\s+3\\.0/~6MiB\\s+1MiB/s\\s+1234\\s+3s\\s+1h02m")),
        table);
    assertTrue(table.endsWith("1 move running\ncopy throttle 50MiB/s per node\n"), table);
    assertTrue(table.lines().allMatch(l -> l.length() <= 100), table);
  }

  @Test
  void adminDefaultsToTheClusterNameANodeDefaultsTo() {
    AdminCommand.Status status = new AdminCommand.Status();
    new picocli.CommandLine(status).parseArgs();
    String fromEnvironment = System.getenv("DEDUPE_CLUSTER_NAME");
    assertEquals(fromEnvironment != null ? fromEnvironment : ConfigKeys.CLUSTER_NAME.defaultValue(),
        status.where.cluster);
  }

  @Test
  void helpAndVersionWork() {
    assertEquals(0, run("--help").code());
    assertEquals(0, run("insert", "--help").code());
    Ran version = run("--version");
    assertEquals(0, version.code());
    assertTrue(version.out().startsWith("dedupe "), version.out());
    Ran nothing = run();
    assertEquals(Main.USAGE, nothing.code());
    Ran unknown = run("insrt", "orders", "x");
    assertEquals(Main.USAGE, unknown.code());
    assertTrue(unknown.err().contains("insert"), "suggests the command meant: " + unknown.err());
  }
}
