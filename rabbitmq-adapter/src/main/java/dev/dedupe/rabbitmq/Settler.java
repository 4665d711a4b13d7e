package dev.dedupe.rabbitmq;

import com.rabbitmq.client.Channel;
import java.io.IOException;
import java.util.Collection;
import java.util.TreeSet;

/**
 * Settles deliveries on the channel: acknowledges, requeues, or rejects them to the queue's
 * dead-letter exchange. Acknowledgements go out as few frames as the tags allow:
 * {@code basicAck(tag, multiple=true)} settles every outstanding tag up to {@code tag}, so it
 * is used for the longest run of the lowest outstanding tags that are all to be acknowledged,
 * and single acks for the rest (a delivery still being decided, or waiting out another
 * consumer's lease, keeps the tags above it from a multiple ack).
 *
 * <p>Multiple acks are only right because this consumer is the channel's only consumer: the
 * channel's tags are all ours.
 *
 * <p>Threads: the consumer's delivery thread only, as amqp-client wants (a channel's acks and
 * publishes are not safe from several threads).
 */
final class Settler {

  private final Channel channel;
  /** Tags received and not yet settled, ascending. */
  private final TreeSet<Long> outstanding = new TreeSet<>();

  Settler(Channel channel) {
    this.channel = channel;
  }

  /** Notes a delivery taken for deciding; tags arrive in ascending order. */
  void received(long tag) {
    outstanding.add(tag);
  }

  /** Acknowledges {@code tags}; returns how many ack frames that took. */
  int ack(Collection<Long> tags) throws IOException {
    TreeSet<Long> toAck = new TreeSet<>(tags);
    int frames = 0;
    // The longest run of the lowest outstanding tags that are all being acknowledged.
    long runEnd = -1;
    int runLength = 0;
    for (long tag : outstanding) {
      if (!toAck.contains(tag)) {
        break;
      }
      runEnd = tag;
      runLength++;
    }
    if (runLength > 1) {
      channel.basicAck(runEnd, true);
      frames++;
      outstanding.headSet(runEnd, true).clear();
      toAck.headSet(runEnd, true).clear();
    }
    for (long tag : toAck) {
      channel.basicAck(tag, false);
      outstanding.remove(tag);
      frames++;
    }
    return frames;
  }

  /** Hands a delivery back to the queue, to be delivered again (to any consumer). */
  void requeue(long tag) throws IOException {
    channel.basicNack(tag, false, true);
    outstanding.remove(tag);
  }

  /**
   * Rejects a delivery without requeueing: the broker routes it to the queue's
   * {@code x-dead-letter-exchange}, or drops it when the queue has none.
   */
  void deadLetter(long tag) throws IOException {
    channel.basicNack(tag, false, false);
    outstanding.remove(tag);
  }

  /** Requeues everything outstanding, at close: one frame (tag 0 with multiple means all). */
  void requeueAll() throws IOException {
    if (!outstanding.isEmpty()) {
      channel.basicNack(0, true, true);
      outstanding.clear();
    }
  }

  int outstanding() {
    return outstanding.size();
  }
}
