package kinesis.producer.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class WaitingTest {
    @BeforeAll
    static void loadLibrary() {
        Fixtures.loadLibrary();
    }

    @Test
    void awaitTimesOutThenCompletes() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1", "--hang", "1");
                NativeProducer producer = new NativeProducer(
                        Fixtures.config(server, "\"record_ttl\":1500,\"request_timeout\":300"))) {
            long batch = new Records().add("s", "k1", null, "x").add("s", "k2", null, "y").submit(producer, 5_000);
            long started = System.nanoTime();
            assertFalse(producer.await(batch, 250));
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertTrue(waited >= 240 && waited < 2_000, "waited " + waited + " ms");
            assertNull(producer.outcomes(batch), "outcomes of an incomplete batch");
            assertNull(producer.awaitOutcomes(batch, 0));
            assertEquals(2, producer.outstandingRecords());

            BatchOutcomes outcomes = producer.awaitOutcomes(batch, 20_000);
            assertNotNull(outcomes, "records never expired");
            assertEquals(2, outcomes.failedCount());
            assertEquals("Expired", outcomes.code(0));
            assertTrue(outcomes.message(0).contains("record_ttl"), outcomes.message(0));
            producer.release(batch);
        }
    }

    @Test
    void closeWakesAThreadWaitingForABatch() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1", "--hang", "1")) {
            NativeProducer producer = new NativeProducer(Fixtures.config(server, "\"record_ttl\":120000"));
            long batch = new Records().add("s", "k", null, "never answered").submit(producer, 5_000);
            CountDownLatch waiting = new CountDownLatch(1);
            CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> {
                waiting.countDown();
                try {
                    return producer.await(batch, 60_000);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            waiting.await();
            Thread.sleep(200);
            assertFalse(waiter.isDone());

            long started = System.nanoTime();
            assertEquals(1, producer.close(300));
            assertTrue(waiter.get(10, TimeUnit.SECONDS), "waiter did not see the batch complete");
            long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertTrue(took < 10_000, "close took " + took + " ms");

            BatchOutcomes outcomes = producer.outcomes(batch);
            assertNotNull(outcomes, "batches stay readable after close");
            assertEquals("ProducerClosed", outcomes.code(0));
            producer.release(batch);
        }
    }

    @Test
    void closeFailsASubmitWaitingForRoom() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1", "--hang", "1")) {
            NativeProducer producer = new NativeProducer(
                    Fixtures.config(server, "\"record_ttl\":120000,\"max_pending_records\":1"));
            long first = new Records().add("s", "k", null, "holds the only slot").submit(producer, 5_000);
            assertTrue(first > 0);
            assertEquals(-1, new Records().add("s", "k", null, "no room").submit(producer, 100), "full must return -1");

            CompletableFuture<Long> blocked =
                    CompletableFuture.supplyAsync(() -> new Records().add("s", "k", null, "waits").submit(producer, 60_000));
            Thread.sleep(300);
            assertFalse(blocked.isDone(), "submit did not wait for room");
            producer.close(200);
            ExecutionException failure = assertThrows(ExecutionException.class, () -> blocked.get(10, TimeUnit.SECONDS));
            assertTrue(failure.getCause() instanceof IllegalStateException, failure.toString());
            assertEquals("producer is closed", failure.getCause().getMessage());
            assertEquals("ProducerClosed", producer.outcomes(first).code(0));
            producer.release(first);
        }
    }

    @Test
    void awaitAnswersInterrupts() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1", "--hang", "1")) {
            NativeProducer producer = new NativeProducer(Fixtures.config(server, "\"record_ttl\":120000"));
            long batch = new Records().add("s", "k", null, "x").submit(producer, 5_000);
            Thread current = Thread.currentThread();
            CompletableFuture.runAsync(() -> {
                sleep(300);
                current.interrupt();
            });
            long started = System.nanoTime();
            assertThrows(InterruptedException.class, () -> producer.await(batch, 30_000));
            assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5));
            producer.close(100);
            producer.release(batch);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
