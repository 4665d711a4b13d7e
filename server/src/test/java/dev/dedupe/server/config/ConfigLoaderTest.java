package dev.dedupe.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

  @TempDir Path dir;

  @Test
  void aMistypedEnvironmentVariableIsNamedWithTheOneMeant() {
    Map<String, String> env = Map.of("DEDUPE_CLUSTER_ZKK", "zk:2181",
        "DEDUPE_CLUSTER_ZK", "zk:2181", "DEDUPE_JAVA_OPTS", "-Xmx1g",
        "DEDUPE_CLUSTER_NODE_ID", "node-1", "PATH", "/usr/bin", "DEDUPE_NOTHING_LIKE_IT", "x");

    assertEquals(List.of(
        "environment variable DEDUPE_CLUSTER_ZKK names no setting and is ignored; did you mean"
            + " DEDUPE_CLUSTER_ZK?",
        "environment variable DEDUPE_NOTHING_LIKE_IT names no setting and is ignored;"
            + " docs/configuration.md lists every setting's variable"),
        ConfigLoader.unknownEnvironment(env));
  }

  @Test
  void defaultsApplyWithNothingSet() {
    ServerConfig c = ConfigLoader.load(null, Map.of(), Map.of());
    assertEquals(50051, c.grpc().port());
    assertEquals(8081, c.ops().port());
    assertEquals(16, c.storage().shards());
    assertEquals(Durability.FSYNC, c.storage().durability());
    assertEquals(Duration.ofHours(6), c.storage().bucketWidth());
    assertEquals(256L << 20, c.storage().blockCacheBytes());
    assertEquals(new LimitsConfig(128, 256, 10_000, 128, 64, 4096, Duration.ofHours(1)), c.limits());
    assertEquals(Duration.ofHours(24), c.windows().defaultWindow());
    assertEquals(Duration.ofHours(24), c.windows().floor());
  }

  @Test
  void flagsBeatEnvironmentWhichBeatsTheFileWhichBeatsDefaults() throws Exception {
    Path file = dir.resolve("dedupe.yaml");
    Files.writeString(file, """
        grpc:
          port: 1111
        ops:
          port: 2222
        storage:
          shards: 32
          disk-budget:
            bytes: 10GiB
        window:
          default:
            hours: 48
        namespaces:
          - name: payments.charge
            window:
              hours: 72
        """);
    ServerConfig c = ConfigLoader.load(file,
        Map.of("grpc.port", "3333"),
        Map.of("DEDUPE_GRPC_PORT", "4444", "DEDUPE_OPS_PORT", "5555",
            "DEDUPE_STORAGE_DURABILITY", "risk-power-loss", "UNRELATED", "x"));
    assertEquals(3333, c.grpc().port());
    assertEquals(5555, c.ops().port());
    assertEquals(32, c.storage().shards());
    assertEquals(10L << 30, c.storage().diskBudgetBytes());
    assertEquals(Durability.RISK_POWER_LOSS, c.storage().durability());
    assertEquals(Duration.ofHours(48), c.windows().windowFor("orders"));
    assertEquals(Duration.ofHours(72), c.windows().windowFor("payments.charge"));
    assertEquals(Duration.ofHours(72), c.windows().longest());
  }

  @Test
  void malformedValuesNameTheirKey() {
    assertMessage("storage.shards must be a whole number",
        Map.of("storage.shards", "many"));
    assertMessage("storage.durability must be 'fsync' or 'risk-power-loss'",
        Map.of("storage.durability", "sometimes"));
    assertMessage("storage.disk-budget.bytes must be a byte count",
        Map.of("storage.disk-budget.bytes", "lots"));
    assertMessage("limits.batch.max-ids must be in [1, 1000000]",
        Map.of("limits.batch.max-ids", "0"));
    assertMessage("window.default.hours must be in (0, 8784]",
        Map.of("window.default.hours", "0"));
    assertMessage("storage.bucket.minutes must be in [1, 10080]",
        Map.of("storage.bucket.minutes", "20000"));
  }

  @Test
  void anUnknownSettingIsRefusedWithTheNearestKnownKey() {
    assertMessage("unknown setting 'storage.disk-budget.byte'; did you mean"
        + " 'storage.disk-budget.bytes'?", Map.of("storage.disk-budget.byte", "1GiB"));
    assertMessage("unknown setting 'no.such.key'", Map.of("no.such.key", "1"));
  }

  @Test
  void anUnknownKeyInTheFileIsRefusedWithTheNearestKnownKey() throws Exception {
    Path file = dir.resolve("dedupe.yaml");
    Files.writeString(file, """
        storage:
          shard: 8
        namespaces:
          - name: payments.charge
            window:
              hours: 72
        """);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ConfigLoader.load(file, Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("unknown setting 'storage.shard' in " + file
        + "; did you mean 'storage.shards'?"), e.getMessage());
  }

  @Test
  void aByteCountTooLargeToHoldNamesItsKeyAndTheLimit() {
    assertMessage("storage.disk-budget.bytes is too large: '99999999TiB' is over 8 EiB",
        Map.of("storage.disk-budget.bytes", "99999999TiB"));
    assertMessage("storage.disk-budget.bytes is too large: '99999999999999999999' is over 8 EiB",
        Map.of("storage.disk-budget.bytes", "99999999999999999999"));
  }

  @Test
  void theExampleDeploymentFileLoads() {
    Path example = Path.of(System.getProperty("user.dir")).getParent()
        .resolve("deploy/dedupe.example.yaml");
    ServerConfig c = ConfigLoader.load(example, Map.of(), Map.of());
    assertTrue(c.grpc().port() > 0);
  }

  @Test
  void aMissingConfigFileIsAnError() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ConfigLoader.load(dir.resolve("nope.yaml"), Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
  }

  @Test
  void everyKeyIsDocumentedInTheConfigurationReference() throws Exception {
    Path doc = Path.of(System.getProperty("user.dir")).getParent().resolve("docs/configuration.md");
    String text = Files.readString(doc);
    for (ConfigKeys.Key key : ConfigKeys.ALL) {
      assertTrue(text.contains("`" + key.name() + "`"), key.name() + " is missing from " + doc);
      assertTrue(text.contains("`" + ConfigKeys.environmentName(key) + "`"),
          ConfigKeys.environmentName(key) + " is missing from " + doc);
    }
  }

  private static void assertMessage(String expected, Map<String, String> settings) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ConfigLoader.load(null, settings, Map.of()));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }
}
