package dev.dedupe.server.storage;

/** The first sequence number written in a leader epoch: one line of a replica's epoch history. */
public record EpochStart(long epoch, long startSeq) {}
