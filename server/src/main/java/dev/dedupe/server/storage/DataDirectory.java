package dev.dedupe.server.storage;

import dev.dedupe.contract.ShardHash;
import java.io.IOException;
import java.io.OutputStream;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Properties;

/**
 * A node's data directory: a format file that fixes the shard count and the hash when the
 * directory is created, and the node's one RocksDB database under {@code db/}, which holds
 * every shard as column families (format 2). Format 1 kept one RocksDB database per shard
 * under {@code shards/shard-NNNN/}; {@link LayoutMigration} moves such a directory to format 2
 * when the node store opens it.
 *
 * <p>The shard count can never change for existing data: every id would move to another
 * shard and be answered NEW again. Opening with a different count fails instead.
 */
public final class DataDirectory {

  static final String FORMAT_FILE = "dedupe.properties";
  /** The format this version writes. */
  static final int FORMAT_VERSION = 2;
  /** The oldest format this version opens (and migrates). */
  static final int OLDEST_FORMAT_VERSION = 1;

  static final String LOCK_FILE = "dedupe.lock";

  private final Path root;
  private final int shards;
  private final String nodeId;
  private final boolean createdNow;
  /** Written by the migration's bump, read by the node store that opens the directory. */
  private volatile int formatVersion;

  private DataDirectory(
      Path root, int shards, String nodeId, boolean createdNow, int formatVersion) {
    this.root = root;
    this.shards = shards;
    this.nodeId = nodeId;
    this.createdNow = createdNow;
    this.formatVersion = formatVersion;
  }

  /**
   * Opens the data directory at {@code root}, creating it with {@code configuredShards} shards
   * if it does not exist yet.
   *
   * @throws IllegalStateException if it exists with another shard count or format
   */
  public static DataDirectory openOrCreate(Path root, int configuredShards) {
    try {
      boolean existed = Files.exists(root);
      Files.createDirectories(root);
      Path formatFile = root.resolve(FORMAT_FILE);
      if (!Files.exists(formatFile)) {
        String nodeId = newNodeId();
        writeFormatFile(formatFile, configuredShards, nodeId, FORMAT_VERSION);
        return new DataDirectory(root, configuredShards, nodeId, !existed, FORMAT_VERSION);
      }
      Properties props = new Properties();
      try (Reader in = Files.newBufferedReader(formatFile)) {
        props.load(in);
      }
      String format = props.getProperty("format");
      String hash = props.getProperty("hash");
      int version = parseFormat(format);
      if (version < OLDEST_FORMAT_VERSION || version > FORMAT_VERSION
          || !ShardHash.NAME.equals(hash)) {
        throw new IllegalStateException(
            "data directory " + root + " has format " + format + " and hash " + hash
                + "; this version reads formats " + OLDEST_FORMAT_VERSION + " to "
                + FORMAT_VERSION + " with hash " + ShardHash.NAME);
      }
      int shards = Integer.parseInt(props.getProperty("shards"));
      if (shards != configuredShards) {
        throw new IllegalStateException(
            "data directory " + root + " was created with " + shards
                + " shards but storage.shards is " + configuredShards
                + "; the shard count is fixed when a data directory is created");
      }
      String nodeId = props.getProperty("node-id");
      if (nodeId == null) {
        nodeId = newNodeId();
        writeFormatFile(formatFile, shards, nodeId, version);
      }
      return new DataDirectory(root, shards, nodeId, false, version);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open data directory " + root, e);
    }
  }

  private static int parseFormat(String format) {
    try {
      return format == null ? -1 : Integer.parseInt(format.strip());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  public Path root() {
    return root;
  }

  /** Whether this open created the directory itself (it did not exist before). */
  public boolean createdNow() {
    return createdNow;
  }

  /**
   * Takes the directory for this process, so that a second node started on it fails at once
   * with a sentence that says who holds it, rather than deep in RocksDB with "LOCK: Resource
   * temporarily unavailable". Released when the returned handle is closed or the process
   * ends. The lock file also holds the holder's process id, for the message.
   *
   * @throws IllegalStateException if another process, or this one, holds the directory
   */
  public AutoCloseable lock() {
    Path lockFile = root.resolve(LOCK_FILE);
    FileChannel channel = null;
    try {
      channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ,
          StandardOpenOption.WRITE);
      java.nio.channels.FileLock held;
      try {
        held = channel.tryLock();
      } catch (java.nio.channels.OverlappingFileLockException inThisProcess) {
        channel.close();
        throw new IllegalStateException("data directory " + root
            + " is already open in this process; give each node its own data directory");
      }
      if (held == null) {
        String holder = Files.readString(lockFile).strip();
        channel.close();
        throw new IllegalStateException("data directory " + root + " is in use by another process"
            + (holder.matches("\\d+") ? " (pid " + holder + ")" : "")
            + "; stop it, or give this node another data directory (--data-dir)");
      }
      channel.truncate(0);
      channel.write(java.nio.ByteBuffer.wrap(
          Long.toString(ProcessHandle.current().pid()).getBytes(java.nio.charset.StandardCharsets.UTF_8)), 0);
      channel.force(false);
      FileChannel open = channel;
      return () -> {
        held.release();
        open.close();
      };
    } catch (IOException e) {
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException ignored) {
          // Already failing; the first error is the one to report.
        }
      }
      throw new UncheckedIOException("cannot lock data directory " + root, e);
    }
  }

  public int shards() {
    return shards;
  }

  /**
   * The id this data directory gives its node in a cluster, made once when the directory was
   * created: the node's identity must outlive restarts, since the shards it owns are on its disk.
   */
  public String nodeId() {
    return nodeId;
  }

  private static String newNodeId() {
    return "node-" + java.util.UUID.randomUUID().toString().substring(0, 8);
  }

  /** The format the directory is in: 1 until migrated, then 2. */
  public int formatVersion() {
    return formatVersion;
  }

  /** The node's RocksDB database (format 2), holding every shard. */
  public Path nodeDatabasePath() {
    return root.resolve("db");
  }

  /** Where format 1 kept the shards' databases; read only by the migration. */
  Path legacyShardsRoot() {
    return root.resolve("shards");
  }

  /** The RocksDB database of one shard in format 1; read only by the migration. */
  Path legacyShardPath(int shard) {
    return legacyShardsRoot().resolve(String.format("shard-%04d", shard));
  }

  /** Where the migration exports a shard's column families before importing them. */
  Path migrationPath() {
    return root.resolve("migration");
  }

  /**
   * Records that the directory is in the current format: rewrites the format file (atomically,
   * synced) with the same node id, hash and shard count.
   */
  void markCurrentFormat() {
    try {
      writeFormatFile(root.resolve(FORMAT_FILE), shards, nodeId, FORMAT_VERSION);
      // Sync the directory too, so that the rename itself survives a power loss.
      try (FileChannel dir = FileChannel.open(root, StandardOpenOption.READ)) {
        dir.force(true);
      }
      formatVersion = FORMAT_VERSION;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot update the format file of " + root, e);
    }
  }

  private static void writeFormatFile(Path formatFile, int shards, String nodeId, int format)
      throws IOException {
    Properties props = new Properties();
    props.setProperty("node-id", nodeId);
    props.setProperty("format", Integer.toString(format));
    props.setProperty("hash", ShardHash.NAME);
    props.setProperty("shards", Integer.toString(shards));
    props.setProperty("created", Instant.now().toString());
    Path tmp = formatFile.resolveSibling(FORMAT_FILE + ".tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      props.store(out, "dedupe data directory; do not edit: the shard count is fixed for life");
    }
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
    Files.move(tmp, formatFile, StandardCopyOption.ATOMIC_MOVE);
  }
}
