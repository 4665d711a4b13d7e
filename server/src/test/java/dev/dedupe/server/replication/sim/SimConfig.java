package dev.dedupe.server.replication.sim;

/** What one seed chose for its cluster, network and timings (milliseconds of local time). */
public record SimConfig(
    int nodes,
    int shards,
    int replicationFactor,
    int minInSync,
    int tailMax,
    int batchMax,
    long sessionTimeout,
    long lagMax,
    long replicationTimeout,
    long clientTimeout,
    int clients,
    int idPool,
    long faultPhase,
    double loss,
    double duplicate,
    double slow,
    int faultGapMax) {

  static SimConfig random(Sim sim) {
    int nodes = sim.between(3, 5);
    int rf;
    int minIsr;
    int kind = sim.between(0, 9);
    if (kind < 7) {
      rf = 3;
      minIsr = 2;
    } else {
      rf = 2;
      minIsr = kind == 7 ? 2 : 1;
    }
    boolean calm = sim.chance(0.15);
    return new SimConfig(nodes, sim.between(1, 3), rf, minIsr,
        sim.between(2, 20), sim.between(1, 6),
        sim.between(300, 600), sim.between(80, 250), sim.between(120, 300), sim.between(200, 400),
        sim.between(2, 5), sim.between(6, 40), 2500,
        calm ? 0 : sim.random.nextDouble() * 0.1,
        calm ? 0 : sim.random.nextDouble() * 0.05,
        calm ? 0 : sim.random.nextDouble() * 0.1,
        calm ? 800 : sim.between(80, 400));
  }

  @Override
  public String toString() {
    return nodes + " nodes, " + shards + " shards, RF " + replicationFactor + ", min ISR " + minInSync
        + ", tail " + tailMax + ", batch " + batchMax + ", session " + sessionTimeout + " ms, lag max "
        + lagMax + ", loss " + String.format("%.3f", loss) + ", dup " + String.format("%.3f", duplicate);
  }
}
