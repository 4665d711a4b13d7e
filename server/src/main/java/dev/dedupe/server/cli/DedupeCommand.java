package dev.dedupe.server.cli;

import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.IVersionProvider;

/** The top of {@code bin/dedupe}: every command is a subcommand. */
@Command(
    name = "dedupe",
    mixinStandardHelpOptions = true,
    versionProvider = DedupeCommand.Version.class,
    description = "A deduplication service: run a node, call one, administer a cluster.",
    commandListHeading = "%nCommands:%n",
    footer = {
        "  bench      Drive a node with batched CheckAndInsert and compare with Redis",
        "             ('bin/dedupe bench --help' lists its options).",
        "",
        "Settings: docs/configuration.md. Every command takes --help.",
        "Exit codes: 0 done, 1 failed, 2 wrong command line, 3 some ids failed."},
    subcommands = {
        ServerCommand.class,
        DevCommand.class,
        InsertCommand.class,
        CheckCommand.class,
        CommitCommand.class,
        ReleaseCommand.class,
        ForgetCommand.class,
        StatsCommand.class,
        AdminCommand.class,
        HelpCommand.class,
        AutoComplete.GenerateCompletion.class
    })
final class DedupeCommand implements Runnable {

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    // No command: show what there is. A usage error, since nothing was done.
    spec.commandLine().usage(spec.commandLine().getErr());
    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "no command given");
  }

  /** The version the build wrote into version.properties. */
  static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() throws java.io.IOException {
      java.util.Properties p = new java.util.Properties();
      try (var in = DedupeCommand.class.getResourceAsStream("version.properties")) {
        if (in != null) {
          p.load(in);
        }
      }
      return new String[] {"dedupe " + p.getProperty("version", "(version unknown)")};
    }
  }
}
