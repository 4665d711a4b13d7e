package dev.dedupe.loadbench;

import java.nio.file.Path;
import java.util.List;

/**
 * The options of the {@code --vs-redis} suite (given --vs-redis and no --preload), checked by
 * {@link BenchCli}.
 *
 * @param rounds how many times each workload meets each target
 * @param workloads the workloads, in table order
 * @param writeDoc a Markdown file whose vs-redis block gets the report, or null
 * @param commandLine the command as typed, for the report
 */
record SuiteOptions(int rounds, List<SuiteWorkload> workloads, Path writeDoc, String commandLine) {}
