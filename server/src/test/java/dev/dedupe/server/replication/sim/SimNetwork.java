package dev.dedupe.server.replication.sim;

import java.util.TreeSet;
import java.util.function.BiConsumer;

/**
 * The simulated network: per-message delay, loss, duplication (and with it reordering), and
 * partitions between pairs of endpoints. What arrives is handed to the receiver, which decides
 * whether it is up to take it.
 */
public final class SimNetwork {

  private final Sim sim;
  private final BiConsumer<String, Msg> deliver;
  private final TreeSet<String> cut = new TreeSet<>();
  double loss;
  double duplicate;
  int minDelay = 1;
  int maxDelay = 8;
  double slowChance;
  int slowDelay = 150;

  SimNetwork(Sim sim, BiConsumer<String, Msg> deliver) {
    this.sim = sim;
    this.deliver = deliver;
  }

  private static String pair(String a, String b) {
    return a.compareTo(b) < 0 ? a + "|" + b : b + "|" + a;
  }

  void partition(String a, String b, boolean value) {
    if (value) {
      cut.add(pair(a, b));
    } else {
      cut.remove(pair(a, b));
    }
    sim.trace("net " + a + "<->" + b + (value ? " CUT" : " healed"));
  }

  boolean connected(String a, String b) {
    return !cut.contains(pair(a, b));
  }

  void healAll() {
    cut.clear();
    loss = 0;
    duplicate = 0;
    slowChance = 0;
    sim.trace("net healed");
  }

  void send(String from, String to, Msg m) {
    if (!connected(from, to) || sim.chance(loss)) {
      return;
    }
    int copies = sim.chance(duplicate) ? 2 : 1;
    for (int i = 0; i < copies; i++) {
      long delay = sim.between(minDelay, maxDelay) + (sim.chance(slowChance) ? sim.between(0, slowDelay) : 0);
      sim.after(delay, () -> {
        if (connected(from, to)) {
          deliver.accept(to, m);
        }
      });
    }
  }
}
