package dev.dedupe.server.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.dedupe.admin.v1.GetThrottleRequest;
import dev.dedupe.admin.v1.SetThrottleRequest;
import dev.dedupe.admin.v1.SetThrottleResponse;
import dev.dedupe.admin.v1.Throttle;
import dev.dedupe.server.copy.ByteRate;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code bin/dedupe admin throttle [set RATE | clear]}: the cluster's copy throttle, through any
 * node's AdminService. Without a subcommand it shows the throttle in force.
 */
@Command(name = "throttle", mixinStandardHelpOptions = true,
    description = {"Show the copy throttle: the rate every node holds the snapshot bytes it",
        "sends to (moves' copies and rebuilds of lagging followers). It ends by itself once",
        "the moves that finish after it was set are done."},
    subcommands = {AdminThrottleCommands.Set.class, AdminThrottleCommands.Clear.class})
final class AdminThrottleCommands implements Callable<Integer> {

  @Mixin CallOptions call;

  @Override
  public Integer call() {
    try (AdminCalls admin = new AdminCalls(call.target())) {
      Throttle t = admin.call(stub -> stub.getThrottle(GetThrottleRequest.getDefaultInstance()))
          .getThrottle();
      PrintWriter out = call.spec.commandLine().getOut();
      out.println(call.output == CallOptions.Output.json ? json(t) : describe(t));
      out.flush();
      return 0;
    }
  }

  /** "50MiB/s, set 2026-12-02T19:00:00Z" or "none". */
  static String describe(Throttle t) {
    if (t.getBytesPerSecond() == 0) {
      return "copy throttle: none";
    }
    return "copy throttle: " + ByteRate.format(t.getBytesPerSecond()) + " per node (set "
        + Instant.ofEpochSecond(t.getSetTime().getSeconds()) + "; it ends when the moves"
        + " finish, or with 'bin/dedupe admin throttle clear')";
  }

  @Command(name = "set", mixinStandardHelpOptions = true,
      description = {"Hold every node's snapshot copies to RATE (together), such as 50MiB/s or",
          "500KiB/s, until the moves that finish after now are done."})
  static final class Set implements Callable<Integer> {
    @Mixin CallOptions call;

    @Parameters(paramLabel = "RATE", converter = RateConverter.class,
        description = "Bytes per second with a unit: B, KiB, MiB, GiB, KB, MB or GB, then /s.")
    long bytesPerSecond;

    @Override
    public Integer call() {
      try (AdminCalls admin = new AdminCalls(call.target())) {
        SetThrottleResponse r = admin.call(stub -> stub.setThrottle(
            SetThrottleRequest.newBuilder().setBytesPerSecond(bytesPerSecond).build()));
        PrintWriter out = call.spec.commandLine().getOut();
        out.println(call.output == CallOptions.Output.json ? json(r.getThrottle())
            : describe(r.getThrottle()));
        out.flush();
        return 0;
      }
    }
  }

  @Command(name = "clear", mixinStandardHelpOptions = true,
      description = "Remove the copy throttle now: copies run at full speed.")
  static final class Clear implements Callable<Integer> {
    @Mixin CallOptions call;

    @Override
    public Integer call() {
      try (AdminCalls admin = new AdminCalls(call.target())) {
        SetThrottleResponse r = admin.call(stub -> stub.setThrottle(
            SetThrottleRequest.newBuilder().setBytesPerSecond(0).build()));
        PrintWriter out = call.spec.commandLine().getOut();
        out.println(call.output == CallOptions.Output.json ? json(r.getThrottle())
            : r.getWasSet() ? "copy throttle cleared" : "copy throttle: none was set");
        out.flush();
        return 0;
      }
    }
  }

  /** RATE on the command line: a bad unit is one line, never a stack trace. */
  static final class RateConverter implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      try {
        return ByteRate.parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  private static String json(Throttle t) {
    try {
      return JsonFormat.printer().omittingInsignificantWhitespace().print(t);
    } catch (InvalidProtocolBufferException e) {
      throw new Failures.CommandFailure("cannot print the answer as JSON: " + e.getMessage(), e);
    }
  }
}
