package dev.dedupe.server.storage;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;

/**
 * How far a snapshot install has come, saved (synced) in the shard's metadata after each chunk
 * it accepted, so that a follower that restarts mid-copy keeps the chunks it has and its
 * leader resumes the copy instead of starting over (see {@link ShardInstall}).
 *
 * @param installId the leader's id for this copy; a chunk of another install replaces it
 * @param epoch the epoch of the leader that sends it
 * @param nextIndex the index of the chunk the install expects next
 * @param header the snapshot's header, its first chunk
 * @param keys the keys accepted so far
 * @param checksum the CRC32C of the data accepted so far
 * @param checksumLength the bytes that checksum covers
 */
public record InstallStage(String installId, long epoch, long nextIndex,
    SnapshotChunk.Header header, long keys, long checksum, long checksumLength) {

  private static final int VERSION = 1;

  public InstallStage {
    Objects.requireNonNull(installId, "installId");
    Objects.requireNonNull(header, "header");
  }

  byte[] encode() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(VERSION);
      out.writeUTF(installId);
      out.writeLong(epoch);
      out.writeLong(nextIndex);
      out.writeLong(keys);
      out.writeLong(checksum);
      out.writeLong(checksumLength);
      byte[] h = SnapshotChunkCodec.encode(header);
      out.writeInt(h.length);
      out.write(h);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  static InstallStage decode(byte[] value) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(value))) {
      int version = in.readByte();
      if (version != VERSION) {
        throw new StorageException("an install stage of version " + version + ", not "
            + VERSION);
      }
      String id = in.readUTF();
      long epoch = in.readLong();
      long next = in.readLong();
      long keys = in.readLong();
      long checksum = in.readLong();
      long checksumLength = in.readLong();
      byte[] h = new byte[in.readInt()];
      in.readFully(h);
      if (!(SnapshotChunkCodec.decode(h) instanceof SnapshotChunk.Header header)) {
        throw new StorageException("an install stage without a snapshot header");
      }
      return new InstallStage(id, epoch, next, header, keys, checksum, checksumLength);
    } catch (IOException e) {
      throw new StorageException("an unreadable install stage", e);
    }
  }
}
