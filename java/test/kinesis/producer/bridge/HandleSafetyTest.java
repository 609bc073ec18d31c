package kinesis.producer.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

@Timeout(60)
class HandleSafetyTest {
    private static final String[] ONE_STREAM = {"s"};
    private static final byte[] KEY = "k".getBytes(StandardCharsets.UTF_8);
    private static final byte[] DATA = "data".getBytes(StandardCharsets.UTF_8);

    @BeforeAll
    static void loadLibrary() {
        Fixtures.loadLibrary();
    }

    private static void assertClosed(Executable call) {
        IllegalStateException e = assertThrows(IllegalStateException.class, call);
        assertEquals("producer is closed", e.getMessage());
    }

    private static IllegalArgumentException assertMalformed(Executable call, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), e.getMessage() + " does not mention " + expected);
        return e;
    }

    @Test
    void doubleCloseAndCallsAfterCloseThrow() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1")) {
            NativeProducer producer = new NativeProducer(Fixtures.config(server, ""));
            long batch = producer.submit(ONE_STREAM, null, KEY, new int[] {1}, null, DATA, new int[] {4}, 1_000);
            assertEquals(0, producer.close(5_000));
            assertClosed(() -> producer.close(5_000));
            assertClosed(producer::close);
            assertClosed(() -> producer.submit(ONE_STREAM, null, KEY, new int[] {1}, null, DATA, new int[] {4}, 0));
            assertClosed(() -> producer.flush(null));
            assertClosed(producer::outstandingRecords);
            assertClosed(producer::outstandingBytes);
            assertClosed(producer::oldestPendingAgeMillis);
            assertClosed(producer::metricsJson);
            // The batch was delivered during close and stays readable until released.
            BatchOutcomes outcomes = producer.outcomes(batch);
            assertNotNull(outcomes);
            assertTrue(outcomes.allDelivered(), RoundTripTest.describe(outcomes));
            producer.release(batch);
            IllegalStateException released = assertThrows(IllegalStateException.class, () -> producer.release(batch));
            assertTrue(released.getMessage().contains("unknown or already released"), released.getMessage());
            assertThrows(IllegalStateException.class, () -> producer.await(batch, 10));
            assertThrows(IllegalStateException.class, () -> producer.outcomes(batch));
            assertThrows(IllegalStateException.class, () -> producer.outcomes(-5));
            assertThrows(IllegalStateException.class, () -> producer.outcomes(Long.MAX_VALUE));
        }
    }

    @Test
    void closeWhileOtherThreadsAreInsideCalls() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:2")) {
            NativeProducer producer = new NativeProducer(Fixtures.config(server, ""));
            AtomicInteger succeeded = new AtomicInteger();
            AtomicInteger refused = new AtomicInteger();
            AtomicReference<Throwable> unexpected = new AtomicReference<>();
            CountDownLatch running = new CountDownLatch(4);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                Thread thread = new Thread(() -> {
                    running.countDown();
                    while (refused.get() < 1_000) {
                        try {
                            long batch = producer.submit(ONE_STREAM, null, KEY, new int[] {1}, null, DATA,
                                    new int[] {4}, 1_000);
                            producer.outstandingRecords();
                            producer.metricsJson();
                            producer.flush("s");
                            producer.await(batch, 1_000);
                            producer.release(batch);
                            succeeded.incrementAndGet();
                        } catch (IllegalStateException e) {
                            if (!"producer is closed".equals(e.getMessage())) {
                                unexpected.compareAndSet(null, e);
                            }
                            refused.incrementAndGet();
                        } catch (Throwable e) {
                            unexpected.compareAndSet(null, e);
                            return;
                        }
                    }
                });
                threads.add(thread);
                thread.start();
            }
            running.await();
            Thread.sleep(300);
            producer.close(5_000);
            for (Thread thread : threads) {
                thread.join(TimeUnit.SECONDS.toMillis(30));
                assertTrue(!thread.isAlive(), "a thread is stuck");
            }
            if (unexpected.get() != null) {
                throw new AssertionError("unexpected failure", unexpected.get());
            }
            assertTrue(succeeded.get() > 0, "no call succeeded before close");
            assertClosed(() -> producer.close(0));
        }
    }

    @Test
    void panicsBecomeExceptions() {
        RuntimeException e = assertThrows(RuntimeException.class, () -> NativeProducer.panicForTests("boom 42"));
        assertTrue(e.getMessage().contains("panicked") && e.getMessage().contains("boom 42"), e.getMessage());
        // The library is still usable afterwards.
        assertThrows(IllegalArgumentException.class, () -> new NativeProducer("{"));
    }

    @Test
    void badConfigurationIsAnIllegalArgument() {
        assertMalformed(() -> new NativeProducer("{"), "not valid JSON");
        assertMalformed(() -> new NativeProducer("[]"), "must be a JSON object");
        assertMalformed(() -> new NativeProducer("{\"no_such_option\":1}"), "no_such_option");
        assertMalformed(() -> new NativeProducer("{\"record_ttl\":5}"), "record_ttl");
        assertMalformed(() -> new NativeProducer(null), "configJson must not be null");
    }

    @Test
    void malformedBatchesAreIllegalArguments() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1");
                NativeProducer producer = new NativeProducer(Fixtures.config(server, ""))) {
            int[] one = {1};
            assertMalformed(() -> producer.submit(null, null, KEY, one, null, DATA, one, 0), "streams must not be null");
            assertMalformed(() -> producer.submit(new String[] {null}, null, KEY, one, null, DATA, one, 0),
                    "streams[0] is null");
            assertMalformed(() -> producer.submit(ONE_STREAM, null, null, one, null, DATA, one, 0), "keys must not be null");
            assertMalformed(() -> producer.submit(ONE_STREAM, null, KEY, null, null, DATA, one, 0),
                    "keyLengths must not be null");
            assertMalformed(() -> producer.submit(ONE_STREAM, null, KEY, one, null, null, one, 0),
                    "payloads must not be null");
            assertMalformed(() -> producer.submit(ONE_STREAM, null, KEY, one, null, DATA, null, 0),
                    "payloadLengths must not be null");
            assertMalformed(() -> producer.submit(ONE_STREAM, null, KEY, new int[] {1, 0}, null, DATA, one, 0),
                    "keyLengths has 2 entries");
            assertMalformed(() -> producer.submit(ONE_STREAM, null, KEY, new int[] {-1}, null, DATA, one, 0),
                    "keyLengths[0] is negative");
            assertMalformed(() -> producer.submit(ONE_STREAM, null, KEY, new int[] {2}, null, DATA, one, 0),
                    "keyLengths add up to more than the 1 bytes");
            assertMalformed(() -> producer.submit(ONE_STREAM, null, KEY, one, null, DATA,
                    new int[] {Integer.MAX_VALUE}, 0), "payloadLengths add up to more than the 4 bytes");
            assertMalformed(() -> producer.submit(new String[] {"a", "b"}, null, KEY, one, null, DATA, one, 0),
                    "streamIndex is required");
            assertMalformed(() -> producer.submit(ONE_STREAM, new int[] {1}, KEY, one, null, DATA, one, 0),
                    "streamIndex[0] is 1");
            assertMalformed(() -> producer.submit(ONE_STREAM, new int[] {}, KEY, one, null, DATA, one, 0),
                    "streamIndex has 0 entries");
            assertMalformed(() -> producer.submit(ONE_STREAM, null, KEY, one, new String[2], DATA, one, 0),
                    "explicitHashKeys has 2 entries");
            assertMalformed(() -> producer.submit(ONE_STREAM, null, KEY, one, null, DATA, one, -1),
                    "timeoutMillis must not be negative");
            assertThrows(IllegalArgumentException.class, () -> producer.await(1, -1));
            assertMalformed(() -> producer.close(-1), "timeoutMillis must not be negative");
            // Nothing was submitted, and the producer still works.
            assertEquals(0, producer.outstandingRecords());
            long batch = producer.submit(ONE_STREAM, null, KEY, one, null, DATA, new int[] {4}, 1_000);
            BatchOutcomes outcomes = producer.awaitOutcomes(batch, 10_000);
            assertNotNull(outcomes);
            assertTrue(outcomes.allDelivered(), RoundTripTest.describe(outcomes));
            producer.release(batch);
        }
    }

    @Test
    void unpairedSurrogatesInStringsDoNotBreakAnything() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1");
                NativeProducer producer = new NativeProducer(Fixtures.config(server, ""))) {
            int[] one = {1};
            long batch = producer.submit(new String[] {"s\uD800"}, null, KEY, one, new String[] {"1\uDC00"}, DATA,
                    new int[] {4}, 1_000);
            BatchOutcomes outcomes = producer.awaitOutcomes(batch, 10_000);
            assertNotNull(outcomes);
            assertEquals("InvalidExplicitHashKey", outcomes.code(0), RoundTripTest.describe(outcomes));
            producer.release(batch);
            assertMalformed(() -> new NativeProducer("{\"region\":\"\uD800\"}"), "region");
        }
    }

    @Test
    void loadChecksItsPath() {
        assertThrows(IllegalArgumentException.class, () -> NativeProducer.load("relative/libkinesis_producer_jni.so"));
        assertThrows(IllegalStateException.class, () -> NativeProducer.load("/elsewhere/libkinesis_producer_jni.so"));
        // Loading again from the same path is a no-op.
        Fixtures.loadLibrary();
    }
}
