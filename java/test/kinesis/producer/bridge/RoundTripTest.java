package kinesis.producer.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class RoundTripTest {
    @BeforeAll
    static void loadLibrary() {
        Fixtures.loadLibrary();
    }

    @Test
    void batchRoundTripAcrossStreams() throws Exception {
        try (TestServer server = new TestServer("--stream", "orders:2", "--stream", "audit:1");
                NativeProducer producer = new NativeProducer(Fixtures.config(server, ""))) {
            Records records = new Records();
            for (int i = 0; i < 300; i++) {
                String hashKey = i == 7 ? "340282366920938463463374607431768211455" : null;
                records.add(i % 3 == 0 ? "audit" : "orders", "key-" + i, hashKey, "payload-" + i);
            }
            long batch = records.submit(producer, 5_000);
            assertTrue(batch > 0, "batch id " + batch);

            BatchOutcomes outcomes = producer.awaitOutcomes(batch, 20_000);
            assertNotNull(outcomes, "batch did not complete");
            assertEquals(300, outcomes.size());
            assertTrue(outcomes.allDelivered(), () -> "failed: " + describe(outcomes));
            for (int i = 0; i < outcomes.size(); i++) {
                assertEquals(BatchOutcomes.DELIVERED, outcomes.status(i));
                assertTrue(outcomes.attempts(i) >= 1);
                assertNull(outcomes.code(i));
                assertNull(outcomes.message(i));
            }
            producer.release(batch);

            assertEquals(0, producer.outstandingRecords());
            assertEquals(0, producer.outstandingBytes());
            assertEquals(-1, producer.oldestPendingAgeMillis());
            String stats = server.stats();
            assertTrue(stats.contains("\"PutRecords\""), stats);
            assertFalse(stats.contains("\"bytes_accepted\":0"), stats);
            // Streams merge their counters into the registry every second.
            String metrics = producer.metricsJson();
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!metrics.contains("\"UserRecordsPut\"") && System.nanoTime() < deadline) {
                Thread.sleep(100);
                metrics = producer.metricsJson();
            }
            assertTrue(metrics.startsWith("[") && metrics.contains("\"metric\":\"UserRecordsPut\""), metrics);
            assertTrue(metrics.contains("\"stream\":\"orders\"") && metrics.contains("\"stream\":\"audit\""), metrics);
        }
    }

    @Test
    void invalidRecordsFailAloneWithTheirReason() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1");
                NativeProducer producer = new NativeProducer(Fixtures.config(server, "\"max_user_record_size\":2048"))) {
            byte[] badUtf8 = {(byte) 'k', (byte) 0xC3, (byte) 0x28};
            Records records = new Records()
                    .add("s", "good-0", null, "a")
                    .add("s", badUtf8, null, "b".getBytes(StandardCharsets.UTF_8))
                    .add("s", "", null, "c")
                    .add("s", "good-3", "12x", "d")
                    .add("s", "good-4", null, new String(new char[4096]).replace('\0', 'x'))
                    .add("", "good-5", null, "f")
                    .add("s", "good-6", "5", "g");
            long batch = records.submit(producer, 5_000);
            BatchOutcomes outcomes = producer.awaitOutcomes(batch, 20_000);
            assertNotNull(outcomes);
            assertEquals(7, outcomes.size());
            assertArrayEquals(new int[] {1, 2, 3, 4, 5}, outcomes.failedIndexes(), describe(outcomes));
            assertTrue(outcomes.isDelivered(0) && outcomes.isDelivered(6), describe(outcomes));
            assertEquals("InvalidPartitionKey", outcomes.code(1));
            assertTrue(outcomes.message(1).contains("not valid UTF-8"), outcomes.message(1));
            assertEquals("InvalidPartitionKey", outcomes.code(2));
            assertEquals("InvalidExplicitHashKey", outcomes.code(3));
            assertEquals("RecordTooLarge", outcomes.code(4));
            assertEquals("InvalidStreamName", outcomes.code(5));
            for (int i = 1; i <= 5; i++) {
                assertEquals(0, outcomes.attempts(i), "refused records are never sent");
            }
            producer.release(batch);
        }
    }

    @Test
    void serviceFailuresAreReportedPerRecord() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1", "--fail-throughput", "1");
                NativeProducer producer = new NativeProducer(Fixtures.config(server, "\"fail_if_throttled\":true"))) {
            Records records = new Records();
            for (int i = 0; i < 20; i++) {
                records.add("s", "k" + i, null, "p" + i);
            }
            long batch = records.submit(producer, 5_000);
            BatchOutcomes outcomes = producer.awaitOutcomes(batch, 20_000);
            assertNotNull(outcomes);
            assertEquals(20, outcomes.failedCount(), describe(outcomes));
            for (int i = 0; i < 20; i++) {
                assertEquals("ProvisionedThroughputExceededException", outcomes.code(i));
                assertNotNull(outcomes.message(i));
                assertEquals(1, outcomes.attempts(i));
            }
            // Equal texts share one String.
            assertTrue(outcomes.code(0) == outcomes.code(19) && outcomes.message(0) == outcomes.message(19));
            producer.release(batch);
        }
    }

    @Test
    void flushSendsBufferedRecordsAtOnce() throws Exception {
        try (TestServer server = new TestServer("--stream", "slow:1");
                NativeProducer producer = new NativeProducer(
                        Fixtures.config(server, "\"record_max_buffered_time\":60000,\"record_ttl\":120000"))) {
            long batch = new Records().add("slow", "k", null, "held until flushed").submit(producer, 5_000);
            assertFalse(producer.await(batch, 500), "sent before the flush");
            assertEquals(1, producer.outstandingRecords());
            assertEquals("k".length() + "held until flushed".length(), producer.outstandingBytes());
            assertTrue(producer.oldestPendingAgeMillis() >= 400, "age " + producer.oldestPendingAgeMillis());
            producer.flush("other-stream");
            assertFalse(producer.await(batch, 300), "flushing another stream sent it");
            producer.flush(null);
            BatchOutcomes outcomes = producer.awaitOutcomes(batch, 10_000);
            assertNotNull(outcomes, "flush did not send the record");
            assertTrue(outcomes.allDelivered(), describe(outcomes));
            producer.release(batch);
        }
    }

    @Test
    void largeBatchWithDistinctMessagesReadsBack() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1");
                NativeProducer producer = new NativeProducer(Fixtures.config(server, ""))) {
            int count = 70_000;
            Records records = new Records();
            for (int i = 0; i < count; i++) {
                records.add("s", "k", "bad-" + i, "x");
            }
            long batch = records.submit(producer, 5_000);
            BatchOutcomes outcomes = producer.awaitOutcomes(batch, 20_000);
            assertNotNull(outcomes);
            assertEquals(count, outcomes.failedCount());
            for (int i : new int[] {0, 1, 65_535, 65_536, count - 1}) {
                assertEquals("InvalidExplicitHashKey", outcomes.code(i));
                assertTrue(outcomes.message(i).contains("\"bad-" + i + "\""), outcomes.message(i));
            }
            producer.release(batch);
        }
    }

    @Test
    void emptyBatchCompletesAtOnce() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1");
                NativeProducer producer = new NativeProducer(Fixtures.config(server, ""))) {
            long batch = producer.submit(new String[0], null, new byte[0], new int[0], null, new byte[0], new int[0], 0);
            BatchOutcomes outcomes = producer.outcomes(batch);
            assertNotNull(outcomes);
            assertEquals(0, outcomes.size());
            producer.release(batch);
        }
    }

    @Test
    void openShardCountAsksTheService() throws Exception {
        try (TestServer server = new TestServer("--stream", "wide:5");
                NativeProducer producer = new NativeProducer(Fixtures.config(server, ""))) {
            assertEquals(5, producer.openShardCount("wide", 10_000));
            RuntimeException missing =
                    assertThrows(RuntimeException.class, () -> producer.openShardCount("absent", 10_000));
            assertTrue(missing.getMessage().contains("absent"), missing.getMessage());
        }
    }

    static String describe(BatchOutcomes outcomes) {
        StringBuilder text = new StringBuilder(outcomes.toString());
        for (int i : Arrays.copyOf(outcomes.failedIndexes(), Math.min(outcomes.failedCount(), 10))) {
            text.append("\n  ").append(i).append(": ").append(outcomes.code(i)).append(" ").append(outcomes.message(i));
        }
        return text.toString();
    }

    private static void assertArrayEquals(int[] expected, int[] actual, String message) {
        assertEquals(Arrays.toString(expected), Arrays.toString(actual), message);
    }
}
