package dev.dedupe.server.storage;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The bytes of a {@link LogEntry} as it travels to followers: a version byte, the epoch and
 * seq, the op count, then per op a tag and its fields (longs big-endian, byte arrays with an
 * int length). Garbage (a truncated entry, an unknown tag or version, an absurd length) is
 * refused with a {@link StorageException}, never applied.
 */
public final class LogEntryCodec {

  static final int VERSION = 1;
  private static final int PUT = 1;
  private static final int DELETE = 2;
  private static final int ENSURE_BUCKET = 3;
  private static final int DROP_BUCKET = 4;
  private static final int PUT_META = 5;
  /** No key, value or op count in an entry comes near this; a larger one is corruption. */
  private static final int MAX_LENGTH = 64 << 20;

  private LogEntryCodec() {}

  public static byte[] encode(LogEntry entry) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(32 + entry.ops().size() * 48);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(VERSION);
      out.writeLong(entry.epoch());
      out.writeLong(entry.seq());
      out.writeInt(entry.ops().size());
      for (LogEntry.Op op : entry.ops()) {
        switch (op) {
          case LogEntry.Put p -> {
            out.writeByte(PUT);
            out.writeLong(p.bucketStart());
            writeBytes(out, p.key());
            writeBytes(out, p.value());
          }
          case LogEntry.Delete d -> {
            out.writeByte(DELETE);
            out.writeLong(d.bucketStart());
            writeBytes(out, d.key());
          }
          case LogEntry.EnsureBucket e -> {
            out.writeByte(ENSURE_BUCKET);
            out.writeLong(e.bucketStart());
          }
          case LogEntry.DropBucket d -> {
            out.writeByte(DROP_BUCKET);
            out.writeLong(d.bucketStart());
          }
          case LogEntry.PutMeta m -> {
            out.writeByte(PUT_META);
            writeBytes(out, m.key());
            writeBytes(out, m.value());
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
    }
    return bytes.toByteArray();
  }

  public static LogEntry decode(byte[] data) {
    try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(data))) {
      int version = in.readUnsignedByte();
      if (version != VERSION) {
        throw new StorageException("log entry of version " + version + "; this node reads "
            + VERSION);
      }
      long epoch = in.readLong();
      long seq = in.readLong();
      int count = length(in.readInt(), "op count");
      List<LogEntry.Op> ops = new ArrayList<>(Math.min(count, 1024));
      for (int i = 0; i < count; i++) {
        int tag = in.readUnsignedByte();
        ops.add(switch (tag) {
          case PUT -> new LogEntry.Put(in.readLong(), readBytes(in), readBytes(in));
          case DELETE -> new LogEntry.Delete(in.readLong(), readBytes(in));
          case ENSURE_BUCKET -> new LogEntry.EnsureBucket(in.readLong());
          case DROP_BUCKET -> new LogEntry.DropBucket(in.readLong());
          case PUT_META -> new LogEntry.PutMeta(readBytes(in), readBytes(in));
          default -> throw new StorageException("log entry " + seq + ": unknown op tag " + tag);
        });
      }
      if (in.available() > 0) {
        throw new StorageException("log entry " + seq + ": " + in.available()
            + " bytes after its last op");
      }
      return new LogEntry(epoch, seq, ops);
    } catch (EOFException e) {
      throw new StorageException("log entry truncated (" + data.length + " bytes)", e);
    } catch (IOException e) {
      throw new StorageException("log entry unreadable: " + e, e);
    }
  }

  private static void writeBytes(DataOutputStream out, byte[] b) throws IOException {
    out.writeInt(b.length);
    out.write(b);
  }

  private static byte[] readBytes(DataInputStream in) throws IOException {
    byte[] b = new byte[length(in.readInt(), "field length")];
    in.readFully(b);
    return b;
  }

  private static int length(int n, String what) {
    if (n < 0 || n > MAX_LENGTH) {
      throw new StorageException("log entry: " + what + " " + n + " is out of range");
    }
    return n;
  }
}
