package dev.dedupe.sqs;

import java.net.URI;
import java.util.Map;
import org.elasticmq.rest.sqs.SQSRestServer;
import org.elasticmq.rest.sqs.SQSRestServerBuilder;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.QueueAttributeName;

/** ElasticMQ, a real SQS-compatible server, in this JVM on a free loopback port. */
final class ElasticMq implements AutoCloseable {

  private final SQSRestServer server;
  private final int port;

  private ElasticMq(SQSRestServer server, int port) {
    this.server = server;
    this.port = port;
  }

  static ElasticMq start() {
    SQSRestServer server = SQSRestServerBuilder.withInterface("127.0.0.1").withDynamicPort()
        .start();
    int port = server.waitUntilStarted().localAddress().getPort();
    return new ElasticMq(server, port);
  }

  /** Where the server listens: {@code http://127.0.0.1:port}. */
  String endpoint() {
    return "http://127.0.0.1:" + port;
  }

  /** A real AWS SDK v2 client talking to this server. */
  SqsClient client() {
    return clientFor(endpoint());
  }

  /** A real AWS SDK v2 client talking to the ElasticMQ at {@code endpoint}. */
  static SqsClient clientFor(String endpoint) {
    return SqsClient.builder()
        .endpointOverride(URI.create(endpoint))
        .region(Region.US_EAST_1)
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("x", "x")))
        .httpClient(UrlConnectionHttpClient.create())
        .build();
  }

  /** Creates a queue (FIFO when its name ends with .fifo) and returns its URL. */
  static String createQueue(SqsClient sqs, String name) {
    Map<QueueAttributeName, String> attributes = name.endsWith(".fifo")
        ? Map.of(QueueAttributeName.FIFO_QUEUE, "true") : Map.of();
    return sqs.createQueue(b -> b.queueName(name).attributes(attributes)).queueUrl();
  }

  /** Visible plus in-flight messages: 0 when the queue is drained. */
  static int backlog(SqsClient sqs, String url) {
    Map<QueueAttributeName, String> a = sqs.getQueueAttributes(b -> b.queueUrl(url)
        .attributeNames(QueueAttributeName.APPROXIMATE_NUMBER_OF_MESSAGES,
            QueueAttributeName.APPROXIMATE_NUMBER_OF_MESSAGES_NOT_VISIBLE,
            QueueAttributeName.APPROXIMATE_NUMBER_OF_MESSAGES_DELAYED)).attributes();
    return a.values().stream().mapToInt(Integer::parseInt).sum();
  }

  /**
   * Stops the server without waiting for it: a consumer's long poll still open (up to its
   * wait time, 20 s by default) would hold a waiting stop that long.
   */
  @Override
  public void close() {
    server.stopAndGetFuture().apply();
  }
}
