package dev.dedupe.server.storage;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The bytes of a {@link SnapshotChunk}: a version byte, a tag, then the chunk's fields (longs
 * big-endian, byte arrays and lists with an int length). Garbage is refused with a
 * {@link StorageException}.
 */
public final class SnapshotChunkCodec {

  static final int VERSION = 1;
  private static final int HEADER = 1;
  private static final int DATA = 2;
  private static final int END = 3;
  private static final int MAX_LENGTH = 64 << 20;

  private SnapshotChunkCodec() {}

  public static byte[] encode(SnapshotChunk chunk) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(VERSION);
      switch (chunk) {
        case SnapshotChunk.Header h -> {
          out.writeByte(HEADER);
          out.writeLong(h.position().epoch());
          out.writeLong(h.position().seq());
          out.writeInt(h.epochs().size());
          for (EpochStart e : h.epochs()) {
            out.writeLong(e.epoch());
            out.writeLong(e.startSeq());
          }
          out.writeInt(h.buckets().size());
          for (long b : h.buckets()) {
            out.writeLong(b);
          }
          out.writeLong(h.budgetHorizonMillis());
        }
        case SnapshotChunk.Data d -> {
          out.writeByte(DATA);
          out.writeLong(d.bucketStart());
          out.writeInt(d.keys().size());
          for (int i = 0; i < d.keys().size(); i++) {
            writeBytes(out, d.keys().get(i));
            writeBytes(out, d.values().get(i));
          }
        }
        case SnapshotChunk.End e -> {
          out.writeByte(END);
          out.writeLong(e.keys());
          out.writeLong(e.checksum());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  public static SnapshotChunk decode(byte[] data) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
      int version = in.readUnsignedByte();
      if (version != VERSION) {
        throw new StorageException("snapshot chunk of version " + version + "; this node reads "
            + VERSION);
      }
      int tag = in.readUnsignedByte();
      SnapshotChunk chunk = switch (tag) {
        case HEADER -> {
          LogPosition position = new LogPosition(in.readLong(), in.readLong());
          int n = length(in.readInt());
          List<EpochStart> epochs = new ArrayList<>(n);
          for (int i = 0; i < n; i++) {
            epochs.add(new EpochStart(in.readLong(), in.readLong()));
          }
          int b = length(in.readInt());
          List<Long> buckets = new ArrayList<>(b);
          for (int i = 0; i < b; i++) {
            buckets.add(in.readLong());
          }
          yield new SnapshotChunk.Header(position, epochs, buckets, in.readLong());
        }
        case DATA -> {
          long bucket = in.readLong();
          int n = length(in.readInt());
          List<byte[]> keys = new ArrayList<>(n);
          List<byte[]> values = new ArrayList<>(n);
          for (int i = 0; i < n; i++) {
            keys.add(readBytes(in));
            values.add(readBytes(in));
          }
          yield new SnapshotChunk.Data(bucket, keys, values);
        }
        case END -> new SnapshotChunk.End(in.readLong(), in.readLong());
        default -> throw new StorageException("snapshot chunk with unknown tag " + tag);
      };
      if (in.available() > 0) {
        throw new StorageException("snapshot chunk: " + in.available() + " bytes after its end");
      }
      return chunk;
    } catch (EOFException e) {
      throw new StorageException("snapshot chunk truncated (" + data.length + " bytes)", e);
    } catch (IOException e) {
      throw new StorageException("snapshot chunk unreadable: " + e, e);
    }
  }

  private static void writeBytes(DataOutputStream out, byte[] b) throws IOException {
    out.writeInt(b.length);
    out.write(b);
  }

  private static byte[] readBytes(DataInputStream in) throws IOException {
    byte[] b = new byte[length(in.readInt())];
    in.readFully(b);
    return b;
  }

  private static int length(int n) {
    if (n < 0 || n > MAX_LENGTH) {
      throw new StorageException("snapshot chunk: length " + n + " is out of range");
    }
    return n;
  }
}
