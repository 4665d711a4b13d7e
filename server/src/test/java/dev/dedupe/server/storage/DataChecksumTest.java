package dev.dedupe.server.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/**
 * The snapshot checksum is the CRC32C of one byte stream however it is fed: chunk by chunk, or
 * resumed from a saved value and length after a restart (what a resumed install relies on to
 * check the same checksum as its leader).
 */
class DataChecksumTest {

  @Test
  void combiningTwoCrcsIsTheCrcOfTheJoinedBytes() {
    Random random = new Random(1);
    for (int i = 0; i < 500; i++) {
      byte[] a = new byte[random.nextInt(3000)];
      byte[] b = new byte[random.nextInt(3000)];
      random.nextBytes(a);
      random.nextBytes(b);
      byte[] joined = new byte[a.length + b.length];
      System.arraycopy(a, 0, joined, 0, a.length);
      System.arraycopy(b, 0, joined, a.length, b.length);
      assertEquals(crc(joined), Crc32cCombine.combine(crc(a), crc(b), b.length),
          "lengths " + a.length + " and " + b.length);
    }
  }

  @Test
  void chunkByChunkAndResumedItIsTheCrc32cOfTheWholeStream() {
    Random random = new Random(2);
    for (int run = 0; run < 50; run++) {
      List<SnapshotChunk.Data> chunks = new ArrayList<>();
      ByteArrayOutputStream stream = new ByteArrayOutputStream();
      for (int c = 0; c < 1 + random.nextInt(6); c++) {
        long bucket = random.nextLong();
        List<byte[]> keys = new ArrayList<>();
        List<byte[]> values = new ArrayList<>();
        stream.writeBytes(longBytes(bucket));
        for (int k = 0; k < random.nextInt(40); k++) {
          byte[] key = new byte[1 + random.nextInt(40)];
          byte[] value = new byte[random.nextInt(300)];
          random.nextBytes(key);
          random.nextBytes(value);
          keys.add(key);
          values.add(value);
          stream.writeBytes(longBytes(key.length));
          stream.writeBytes(key);
          stream.writeBytes(longBytes(value.length));
          stream.writeBytes(value);
        }
        chunks.add(new SnapshotChunk.Data(bucket, keys, values));
      }
      SnapshotChunk.DataChecksum whole = new SnapshotChunk.DataChecksum();
      chunks.forEach(whole::add);
      assertEquals(crc(stream.toByteArray()), whole.value());
      assertEquals(stream.size(), whole.length());

      int cut = random.nextInt(chunks.size() + 1);
      SnapshotChunk.DataChecksum before = new SnapshotChunk.DataChecksum();
      chunks.subList(0, cut).forEach(before::add);
      SnapshotChunk.DataChecksum after =
          SnapshotChunk.DataChecksum.resumed(before.value(), before.length());
      chunks.subList(cut, chunks.size()).forEach(after::add);
      assertEquals(whole.value(), after.value(), "resumed after chunk " + cut);
    }
  }

  private static long crc(byte[] bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes);
    return crc.getValue();
  }

  private static byte[] longBytes(long v) {
    return ByteBuffer.allocate(Long.BYTES).putLong(v).array();
  }
}
