package dev.dedupe.server.config;

import io.helidon.config.Config;
import io.helidon.config.ConfigSources;
import io.helidon.config.MissingValueException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Builds the one {@link ServerConfig} from, highest precedence first: command-line settings,
 * {@code DEDUPE_*} environment variables, the YAML file, and the defaults in
 * {@link ConfigKeys}. Fails with a message that names the key when a value is malformed.
 */
public final class ConfigLoader {

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ConfigLoader.class);

  private static final Pattern SIZE =
      Pattern.compile("(?i)\\s*(\\d+)\\s*(b|kib|mib|gib|tib|kb|mb|gb|tb)?\\s*");

  private ConfigLoader() {}

  /**
   * Loads the configuration.
   *
   * @param file the YAML file, or null for none
   * @param settings key to value, from the command line
   * @param environment the process environment (only {@code DEDUPE_*} names are read)
   */
  public static ServerConfig load(Path file, Map<String, String> settings, Map<String, String> environment) {
    return load(file, settings, environment, Map.of());
  }

  /**
   * Loads the configuration with some defaults replaced ({@code bin/dedupe dev}'s: loopback,
   * small caches, data under the checkout). They stay defaults: the file, the environment and
   * the flags all beat them.
   *
   * @param defaultOverrides key to value, replacing the defaults of {@link ConfigKeys}
   */
  public static ServerConfig load(Path file, Map<String, String> settings,
      Map<String, String> environment, Map<String, String> defaultOverrides) {
    defaultOverrides.keySet().forEach(key -> checkKnown(key, ""));
    // A typo must not pass silently as a default: every key given must be a known one.
    settings.keySet().forEach(key -> checkKnown(key, ""));
    Map<String, String> fromEnvironment = new HashMap<>();
    for (ConfigKeys.Key key : ConfigKeys.ALL) {
      String value = environment.get(ConfigKeys.environmentName(key));
      if (value != null) {
        fromEnvironment.put(key.name(), value);
      }
    }
    unknownEnvironment(environment).forEach(log::warn);
    Map<String, String> defaults = new LinkedHashMap<>();
    ConfigKeys.ALL.forEach(k -> defaults.put(k.name(), k.defaultValue()));
    defaults.putAll(defaultOverrides);

    Config.Builder builder = Config.builder()
        .disableEnvironmentVariablesSource()
        .disableSystemPropertiesSource()
        .disableParserServices()
        .addParser(io.helidon.config.yaml.YamlConfigParser.create());
    List<java.util.function.Supplier<? extends io.helidon.config.spi.ConfigSource>> sources =
        new java.util.ArrayList<>();
    sources.add(ConfigSources.create(settings));
    sources.add(ConfigSources.create(fromEnvironment));
    if (file != null) {
      if (!Files.isRegularFile(file)) {
        throw new IllegalArgumentException("config file " + file + " does not exist");
      }
      sources.add(ConfigSources.file(file));
      checkFileKeys(file);
    }
    sources.add(ConfigSources.create(defaults));
    Config config = builder.sources(sources).build();
    return fromConfig(config);
  }

  /** {@code DEDUPE_*} variables that are not settings yet are read by the launcher. */
  private static final java.util.Set<String> LAUNCHER_VARIABLES = java.util.Set.of(
      "DEDUPE_JAVA_OPTS");

  /**
   * One warning per {@code DEDUPE_*} environment variable that names no setting (a typo such
   * as {@code DEDUPE_CLUSTER_ZKK} would otherwise leave the default in force, unseen). A
   * warning, not a refusal: other tools' variables may share the prefix.
   */
  static List<String> unknownEnvironment(Map<String, String> environment) {
    java.util.Set<String> settings = new java.util.HashSet<>();
    ConfigKeys.ALL.forEach(k -> settings.add(ConfigKeys.environmentName(k)));
    return environment.keySet().stream()
        .filter(name -> name.startsWith("DEDUPE_") && !settings.contains(name)
            && !LAUNCHER_VARIABLES.contains(name))
        .sorted()
        .map(name -> {
          String guess = name.substring("DEDUPE_".length()).toLowerCase(Locale.ROOT)
              .replace('_', '.');
          String nearest = ConfigKeys.nearest(guess);
          return "environment variable " + name + " names no setting and is ignored"
              + (nearest == null ? "; docs/configuration.md lists every setting's variable"
                  : "; did you mean " + ConfigKeys.environmentName(ConfigKeys.ALL.stream()
                      .filter(k -> k.name().equals(nearest)).findFirst().orElseThrow()) + "?");
        })
        .toList();
  }

  /** Fails on the first key of the YAML file that is not a known setting. */
  private static void checkFileKeys(Path file) {
    Config fileOnly = Config.builder()
        .disableEnvironmentVariablesSource()
        .disableSystemPropertiesSource()
        .disableParserServices()
        .addParser(io.helidon.config.yaml.YamlConfigParser.create())
        .sources(ConfigSources.file(file))
        .build();
    fileOnly.traverse()
        .filter(Config::isLeaf)
        .map(node -> node.key().toString())
        // Per-namespace windows are a list of their own shape (see ConfigKeys.NAMESPACES).
        .filter(key -> !key.equals(ConfigKeys.NAMESPACES)
            && !key.startsWith(ConfigKeys.NAMESPACES + "."))
        .forEach(key -> checkKnown(key, " in " + file));
  }

  private static void checkKnown(String key, String where) {
    if (ConfigKeys.ALL.stream().anyMatch(k -> k.name().equals(key))) {
      return;
    }
    String nearest = ConfigKeys.nearest(key);
    throw new IllegalArgumentException("unknown setting '" + key + "'" + where
        + (nearest == null ? "; docs/configuration.md lists every setting"
            : "; did you mean '" + nearest + "'?"));
  }

  static ServerConfig fromConfig(Config c) {
    EndpointConfig grpc = new EndpointConfig(
        string(c, ConfigKeys.GRPC_HOST), integer(c, ConfigKeys.GRPC_PORT));
    String advertised = string(c, ConfigKeys.GRPC_ADVERTISED_ADDRESS);
    EndpointConfig ops = new EndpointConfig(
        string(c, ConfigKeys.OPS_HOST), integer(c, ConfigKeys.OPS_PORT));
    StorageConfig storage = new StorageConfig(
        Path.of(string(c, ConfigKeys.DATA_DIR)),
        integer(c, ConfigKeys.SHARDS),
        Durability.parse(string(c, ConfigKeys.DURABILITY)),
        Duration.ofMinutes(integer(c, ConfigKeys.BUCKET_MINUTES)),
        bytes(c, ConfigKeys.DISK_BUDGET_BYTES),
        bytes(c, ConfigKeys.BLOCK_CACHE_BYTES),
        bytes(c, ConfigKeys.WRITE_BUFFER_BYTES),
        Duration.ofSeconds(integer(c, ConfigKeys.MAINTENANCE_SECONDS)));
    LimitsConfig limits = new LimitsConfig(
        integer(c, ConfigKeys.NAMESPACE_MAX_CHARS),
        integer(c, ConfigKeys.MESSAGE_ID_MAX_BYTES),
        integer(c, ConfigKeys.BATCH_MAX_IDS),
        integer(c, ConfigKeys.ATTEMPT_TOKEN_MAX_BYTES),
        integer(c, ConfigKeys.FINGERPRINT_MAX_BYTES),
        (int) bytes(c, ConfigKeys.RESULT_MAX_BYTES),
        Duration.ofSeconds(integer(c, ConfigKeys.LEASE_MAX_SECONDS)));
    Map<String, Duration> perNamespace = new HashMap<>();
    Config namespaces = c.get(ConfigKeys.NAMESPACES);
    if (namespaces.exists()) {
      for (Config ns : namespaces.asNodeList().get()) {
        String name = ns.get("name").asString().orElseThrow(() ->
            new IllegalArgumentException("each entry of namespaces needs a name"));
        double hours = ns.get("window.hours").asDouble().orElseThrow(() ->
            new IllegalArgumentException("namespaces entry " + name + " needs window.hours"));
        perNamespace.put(name, hoursToDuration("namespaces." + name + ".window.hours", hours));
      }
    }
    WindowConfig windows = new WindowConfig(
        hoursToDuration(ConfigKeys.WINDOW_DEFAULT_HOURS.name(), decimal(c, ConfigKeys.WINDOW_DEFAULT_HOURS)),
        hoursToDuration(ConfigKeys.WINDOW_FLOOR_HOURS.name(), decimal(c, ConfigKeys.WINDOW_FLOOR_HOURS)),
        perNamespace);
    ClusterConfig cluster = new ClusterConfig(
        string(c, ConfigKeys.CLUSTER_ZK),
        string(c, ConfigKeys.CLUSTER_NAME),
        string(c, ConfigKeys.CLUSTER_NODE_ID),
        integer(c, ConfigKeys.CLUSTER_INITIAL_NODES),
        Duration.ofSeconds(integer(c, ConfigKeys.CLUSTER_SESSION_TIMEOUT_SECONDS)),
        integer(c, ConfigKeys.CLUSTER_REPLICATION_FACTOR),
        integer(c, ConfigKeys.CLUSTER_MIN_INSYNC_REPLICAS),
        Duration.ofMillis(integer(c, ConfigKeys.CLUSTER_REPLICA_LAG_MAX_MS)),
        Duration.ofMillis(integer(c, ConfigKeys.CLUSTER_REPLICATION_TIMEOUT_MS)),
        string(c, ConfigKeys.CLUSTER_ZONE),
        integer(c, ConfigKeys.CLUSTER_REPLICATION_PORT),
        string(c, ConfigKeys.CLUSTER_REPLICATION_ADVERTISED_ADDRESS),
        Duration.ofSeconds(integer(c, ConfigKeys.CLUSTER_SHUTDOWN_HANDOVER_TIMEOUT_SECONDS)),
        bool(c, ConfigKeys.CLUSTER_AUTO_LEADER_BALANCE),
        Duration.ofSeconds(integer(c, ConfigKeys.CLUSTER_REMOVED_REPLICA_GRACE_SECONDS)),
        Duration.ofSeconds(integer(c, ConfigKeys.CLUSTER_REPLACE_DEAD_NODE_AFTER_SECONDS)));
    return new ServerConfig(grpc, advertised, ops, storage, limits, windows, cluster);
  }

  private static String string(Config c, ConfigKeys.Key key) {
    try {
      return c.get(key.name()).asString().get().trim();
    } catch (MissingValueException e) {
      return key.defaultValue();
    }
  }

  private static int integer(Config c, ConfigKeys.Key key) {
    String value = string(c, key);
    try {
      return Integer.parseInt(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key.name() + " must be a whole number, was '" + value + "'");
    }
  }

  private static boolean bool(Config c, ConfigKeys.Key key) {
    String value = string(c, key);
    return switch (value.toLowerCase(java.util.Locale.ROOT)) {
      case "true" -> true;
      case "false" -> false;
      default -> throw new IllegalArgumentException(
          key.name() + " must be true or false, was '" + value + "'");
    };
  }

  private static double decimal(Config c, ConfigKeys.Key key) {
    String value = string(c, key);
    try {
      return Double.parseDouble(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key.name() + " must be a number, was '" + value + "'");
    }
  }

  /** Parses a byte count: a whole number, optionally with B, KiB, MiB, GiB or TiB (or KB...). */
  static long bytes(Config c, ConfigKeys.Key key) {
    return parseBytes(key.name(), string(c, key));
  }

  static long parseBytes(String keyName, String value) {
    Matcher m = SIZE.matcher(value);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          keyName + " must be a byte count such as 1073741824 or 1GiB, was '" + value + "'");
    }
    String tooLarge = keyName + " is too large: '" + value.trim() + "' is over 8 EiB";
    long n;
    try {
      n = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(tooLarge);
    }
    String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
    long multiplier = switch (unit) {
      case "kib" -> 1L << 10;
      case "mib" -> 1L << 20;
      case "gib" -> 1L << 30;
      case "tib" -> 1L << 40;
      case "kb" -> 1_000L;
      case "mb" -> 1_000_000L;
      case "gb" -> 1_000_000_000L;
      case "tb" -> 1_000_000_000_000L;
      default -> 1L;
    };
    try {
      return Math.multiplyExact(n, multiplier);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(tooLarge);
    }
  }

  private static Duration hoursToDuration(String key, double hours) {
    if (!(hours > 0) || hours > 24 * 366) {
      throw new IllegalArgumentException(key + " must be in (0, 8784] hours, was " + hours);
    }
    return Duration.ofMillis(Math.round(hours * 3_600_000));
  }
}
