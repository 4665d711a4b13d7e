package dev.dedupe.server.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.dedupe.admin.v1.CancelMoveRequest;
import dev.dedupe.admin.v1.ListMovesRequest;
import dev.dedupe.admin.v1.ListMovesResponse;
import dev.dedupe.admin.v1.Move;
import dev.dedupe.admin.v1.MoveReplicaRequest;
import dev.dedupe.admin.v1.MoveState;
import dev.dedupe.admin.v1.TransferLeaderRequest;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code bin/dedupe admin move | transfer-leader | moves | cancel}: the move jobs, through any
 * node's AdminService ({@code --target}, as for every command that calls a node). The node
 * checks a request at once and the controller carries it out; these commands only ask and
 * show.
 */
final class AdminMoveCommands {

  private AdminMoveCommands() {}

  @Command(name = "move", mixinStandardHelpOptions = true,
      description = {"Move one replica of a shard from one node to another, with its data.",
          "Returns at once with the job's id; 'admin moves --watch' follows it."})
  static final class MoveReplica implements Callable<Integer> {
    @Mixin CallOptions call;

    @Option(names = "--shard", paramLabel = "S", required = true, description = "The shard.")
    int shard;

    @Option(names = "--from", paramLabel = "NODE", required = true,
        description = "The node whose replica moves.")
    String from;

    @Option(names = "--to", paramLabel = "NODE", required = true,
        description = "The node that gets the replica: live, not a replica of the shard yet.")
    String to;

    @Override
    public Integer call() {
      try (AdminCalls admin = new AdminCalls(call.target())) {
        Move move = admin.call(stub -> stub.moveReplica(MoveReplicaRequest.newBuilder()
            .setShard(shard).setFromNode(from).setToNode(to).build())).getMove();
        return printStarted(call, move, "moving shard " + shard + "'s replica from " + from
            + " to " + to);
      }
    }
  }

  @Command(name = "transfer-leader", mixinStandardHelpOptions = true,
      description = {"Move a shard's leadership to another in-sync replica. No data is copied.",
          "Returns at once with the job's id; 'admin moves --watch' follows it."})
  static final class TransferLeader implements Callable<Integer> {
    @Mixin CallOptions call;

    @Option(names = "--shard", paramLabel = "S", required = true, description = "The shard.")
    int shard;

    @Option(names = "--to", paramLabel = "NODE", required = true,
        description = "The node to lead: a live, in-sync replica of the shard.")
    String to;

    @Override
    public Integer call() {
      try (AdminCalls admin = new AdminCalls(call.target())) {
        Move move = admin.call(stub -> stub.transferLeader(TransferLeaderRequest.newBuilder()
            .setShard(shard).setToNode(to).build())).getMove();
        return printStarted(call, move, "moving shard " + shard + "'s leadership to " + to);
      }
    }
  }

  @Command(name = "moves", mixinStandardHelpOptions = true,
      description = {"The move jobs: running ones and the last 100 finished, oldest first.",
          "With --watch, redraws every second until none runs."})
  static final class Moves implements Callable<Integer> {
    @Mixin CallOptions call;

    @Option(names = "--watch", description = "Redraw until no job runs, then exit.")
    boolean watch;

    @Override
    public Integer call() throws InterruptedException {
      PrintWriter out = call.spec.commandLine().getOut();
      try (AdminCalls admin = new AdminCalls(call.target())) {
        while (true) {
          ListMovesResponse moves = admin.call(stub -> stub.listMoves(
              ListMovesRequest.getDefaultInstance()));
          boolean running = moves.getMovesList().stream()
              .anyMatch(m -> m.getState() == MoveState.MOVE_STATE_RUNNING);
          if (call.output == CallOptions.Output.json) {
            out.println(json(moves));
          } else {
            if (watch) {
              out.print("\033[H\033[2J"); // home and clear: a redraw, not a scroll
            }
            out.print(MovesTable.render(moves.getMovesList(), moves.getThrottle(),
                Instant.now()));
          }
          out.flush();
          if (!watch || !running) {
            return 0;
          }
          Thread.sleep(1_000);
        }
      }
    }
  }

  @Command(name = "cancel", mixinStandardHelpOptions = true,
      description = {"Roll a running job back: the shard keeps the replicas it had before it.",
          "Refused once the source replica is being removed (move it back instead)."})
  static final class Cancel implements Callable<Integer> {
    @Mixin CallOptions call;

    @Parameters(paramLabel = "MOVE", description = "The job's id, as 'admin moves' shows it.")
    String id;

    @Override
    public Integer call() {
      try (AdminCalls admin = new AdminCalls(call.target())) {
        Move move = admin.call(stub -> stub.cancelMove(CancelMoveRequest.newBuilder()
            .setMoveId(id).build())).getMove();
        PrintWriter out = call.spec.commandLine().getOut();
        if (call.output == CallOptions.Output.json) {
          out.println(json(move));
        } else {
          out.println(move.getMoveId() + ": cancel requested; the controller rolls it back"
              + " ('bin/dedupe admin moves --watch' shows it end CANCELLED)");
        }
        out.flush();
        return 0;
      }
    }
  }

  private static int printStarted(CallOptions call, Move move, String what) {
    PrintWriter out = call.spec.commandLine().getOut();
    if (call.output == CallOptions.Output.json) {
      out.println(json(move));
    } else {
      out.println(move.getMoveId() + ": " + what + " (follow it with 'bin/dedupe admin moves"
          + " --watch', undo it with 'bin/dedupe admin cancel " + move.getMoveId() + "')");
    }
    out.flush();
    return 0;
  }

  private static String json(MessageOrBuilder message) {
    try {
      return JsonFormat.printer().omittingInsignificantWhitespace().print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new Failures.CommandFailure("cannot print the answer as JSON: " + e.getMessage(), e);
    }
  }
}
