package dev.dedupe.server.storage;

/**
 * The CRC32C of two byte sequences joined, from the CRC32C of each and the second's length,
 * without their bytes: what lets a snapshot install that a restart interrupted go on checking
 * the same checksum from a value it saved. {@code java.util.zip.CRC32C} cannot be resumed from
 * a value, and no library on the class path combines; the method is zlib's
 * {@code crc32_combine} (appending n zero bits is a linear map over GF(2), applied by squaring
 * the one-zero-bit operator), here with the Castagnoli polynomial.
 */
final class Crc32cCombine {

  /** The Castagnoli polynomial, bit-reversed, as CRC32C computes it. */
  private static final int POLYNOMIAL = 0x82F63B78;

  private Crc32cCombine() {}

  /**
   * @param first the CRC32C of the first sequence (0 for an empty one)
   * @param second the CRC32C of the second sequence
   * @param secondLength the second sequence's length in bytes
   * @return the CRC32C of the first sequence followed by the second
   */
  static long combine(long first, long second, long secondLength) {
    if (secondLength <= 0) {
      return first;
    }
    int[] odd = new int[32];
    int[] even = new int[32];
    odd[0] = POLYNOMIAL; // the operator for one zero bit
    int row = 1;
    for (int n = 1; n < 32; n++) {
      odd[n] = row;
      row <<= 1;
    }
    square(even, odd); // two zero bits
    square(odd, even); // four zero bits
    int crc = (int) first;
    long length = secondLength;
    // Each pass squares the operator (a byte, two bytes, four...) and applies it where the
    // length has a one bit.
    do {
      square(even, odd);
      if ((length & 1) != 0) {
        crc = times(even, crc);
      }
      length >>>= 1;
      if (length == 0) {
        break;
      }
      square(odd, even);
      if ((length & 1) != 0) {
        crc = times(odd, crc);
      }
      length >>>= 1;
    } while (length != 0);
    return Integer.toUnsignedLong(crc ^ (int) second);
  }

  private static int times(int[] matrix, int vector) {
    int sum = 0;
    for (int i = 0; vector != 0; i++, vector >>>= 1) {
      if ((vector & 1) != 0) {
        sum ^= matrix[i];
      }
    }
    return sum;
  }

  private static void square(int[] result, int[] matrix) {
    for (int n = 0; n < 32; n++) {
      result[n] = times(matrix, matrix[n]);
    }
  }
}
