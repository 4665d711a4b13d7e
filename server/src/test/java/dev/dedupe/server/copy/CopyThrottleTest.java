package dev.dedupe.server.copy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The throttle's arithmetic on an injected clock, and rates as admins type them. */
class CopyThrottleTest {

  private static final long SECOND = 1_000_000_000L;

  @Test
  void chunksArePaidForBeforeTheyGoWithNoBurst() {
    AtomicLong now = new AtomicLong(5 * SECOND);
    CopyThrottle t = new CopyThrottle(now::get);
    assertEquals(0, t.reserve(1 << 20), "no throttle: no wait");
    t.setRate(1 << 20);
    // The first MiB waits its whole second: a copy never starts a burst ahead of the rate.
    assertEquals(SECOND, t.reserve(1 << 20));
    // A second chunk asked at once queues behind the first.
    assertEquals(2 * SECOND, t.reserve(1 << 20));
    now.addAndGet(2 * SECOND);
    assertEquals(SECOND / 2, t.reserve(1 << 19));
    // Time spent sending is credited (the chunk's own share), idle time only up to 0.25 s.
    now.addAndGet(SECOND / 2 + SECOND / 10);
    assertEquals(SECOND - SECOND / 10, t.reserve(1 << 20));
    now.addAndGet(10 * SECOND);
    assertEquals(SECOND - CopyThrottle.MAX_CREDIT_NANOS, t.reserve(1 << 20));
  }

  @Test
  void copiesShareOneBudget() {
    AtomicLong now = new AtomicLong();
    CopyThrottle t = new CopyThrottle(now::get);
    t.setRate(1000);
    long total = 0;
    for (int copy = 0; copy < 4; copy++) {
      total = t.reserve(500); // four copies asking at once
    }
    assertEquals(2 * SECOND, total, "2000 bytes at 1000 B/s, whoever asks");
  }

  @Test
  void aNewRateChargesWaitingChunksAgainFromNow() {
    AtomicLong now = new AtomicLong();
    CopyThrottle t = new CopyThrottle(now::get);
    t.setRate(1000);
    assertEquals(10 * SECOND, t.reserve(10_000));
    t.setRate(10_000);
    assertEquals(SECOND, t.reserve(10_000), "the raised rate counts from now");
    t.setRate(0);
    assertEquals(0, t.reserve(10_000));
    assertEquals(0, t.rate());
    assertThrows(IllegalArgumentException.class, () -> t.setRate(-1));
  }

  @Test
  void acquireWaitsAboutTheRate() throws InterruptedException {
    CopyThrottle t = new CopyThrottle(System::nanoTime);
    t.setRate(100_000);
    long start = System.nanoTime();
    t.acquire(20_000);
    long waited = System.nanoTime() - start;
    assertTrue(waited >= 190_000_000L, "waited " + waited + " ns for 0.2 s of budget");
  }

  @Test
  void ratesParseWithUnitsPerSecondAndRefuseTheRest() {
    assertEquals(50L << 20, ByteRate.parse("50MiB/s"));
    assertEquals(500L << 10, ByteRate.parse("500KiB/s"));
    assertEquals(1_000_000_000L, ByteRate.parse("1GB/s"));
    assertEquals(1536L << 10, ByteRate.parse("1.5MiB/s"));
    assertEquals(2048, ByteRate.parse("2048B/s"));
    for (String bad : new String[] {"50MiB", "50mb/s", "fast", "-5MiB/s", "", "50 MiB/m"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ByteRate.parse(bad), bad);
      assertTrue(e.getMessage().contains("50MiB/s"), e.getMessage());
    }
    IllegalArgumentException low = assertThrows(IllegalArgumentException.class,
        () -> ByteRate.parse("10B/s"));
    assertTrue(low.getMessage().contains("out of range"), low.getMessage());
    assertEquals("50MiB/s", ByteRate.format(50L << 20));
    assertEquals("1.5MiB/s", ByteRate.format(1536L << 10));
  }
}
