package dev.dedupe.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The builder validates each setting, says what it got, and takes each setting once. */
class BuilderTest {

  private static void assertRejects(String expectedInMessage, Runnable setter) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, setter::run);
    assertTrue(e.getMessage().contains(expectedInMessage),
        "message should carry '" + expectedInMessage + "': " + e.getMessage());
  }

  @Test
  void settersRejectBadValuesWithTheValueInTheMessage() {
    assertRejects("'localhost'", () -> DedupeClient.builder().target("localhost"));
    assertRejects("'host:0'", () -> DedupeClient.builder().target("host:0"));
    assertRejects("'::1:50051'", () -> DedupeClient.builder().target("::1:50051"));
    assertRejects("[]", () -> DedupeClient.builder().targets(List.of()));
    assertRejects("PT0S", () -> DedupeClient.builder().requestDeadline(Duration.ZERO));
    assertRejects("was 0", () -> DedupeClient.builder().maxAttempts(0));
    assertRejects("PT0.01S", () -> DedupeClient.builder()
        .backoff(Duration.ofMillis(100), Duration.ofMillis(10)));
    assertRejects("1.5", () -> DedupeClient.builder().jitter(1.5));
    assertRejects("10001", () -> DedupeClient.builder().maxBatchIds(10_001));
    assertRejects("PT-0.001S", () -> DedupeClient.builder().linger(Duration.ofMillis(-1)));
    assertRejects("was 0", () -> DedupeClient.builder().maxPendingIds(0));
    assertRejects("PT2H", () -> DedupeClient.builder().defaultLease(Duration.ofHours(2)));
    assertRejects("PT-1S", () -> InsertOptions.none().withLease(Duration.ofSeconds(-1)));
  }

  @Test
  void eachSettingIsSetOnce() {
    DedupeClient.Builder b = DedupeClient.builder().linger(Duration.ofMillis(5));
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> b.linger(Duration.ofMillis(7)));
    assertEquals("linger was already set to PT0.005S", e.getMessage());
    DedupeClient.Builder t = DedupeClient.builder().target("a:1");
    assertThrows(IllegalStateException.class, () -> t.targets(List.of("b:2")));
  }

  @Test
  void buildChecksTheCombination() {
    assertThrows(IllegalStateException.class, () -> DedupeClient.builder().build());
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> DedupeClient.builder().target("a:1").maxBatchIds(100).maxPendingIds(10).build());
    assertTrue(e.getMessage().contains("10") && e.getMessage().contains("100"), e.getMessage());
  }

  @Test
  void callsCheckTheirArgumentsBeforeSendingAnything() {
    try (DedupeClient client = DedupeClient.builder().target("127.0.0.1:1").build()) {
      assertRejects("'bad ns'", () -> client.checkAndInsertAsync("bad ns", "id"));
      assertRejects("index 0 is empty", () -> client.checkAndInsertAsync("ns", ""));
      assertThrows(NullPointerException.class, () -> client.checkAndInsertAsync("ns", (String) null));
      assertRejects("attemptToken", () -> client.commitAsync("ns", "id", "", new byte[0]));
      assertEquals(List.of(), client.checkAndInsert("ns", List.of()));
    }
  }

  @Test
  void aClosedClientRefusesNewCalls() {
    DedupeClient client = DedupeClient.builder().target("127.0.0.1:1").build();
    client.close();
    client.close(); // twice is fine
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> client.checkAndInsert("ns", "id"));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
  }
}
