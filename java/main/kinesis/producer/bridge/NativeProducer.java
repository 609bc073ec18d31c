package kinesis.producer.bridge;

import java.io.File;
import java.util.Objects;

/**
 * A Kinesis producer running in native code (the Rust engine {@code kinesis-producer}).
 *
 * <p>Load the native library once with {@link #load(String)}, create producers from a JSON
 * configuration (the engine's option names), submit batches of records packed into a few arrays
 * with {@link #submit}, then wait for and read their outcomes by batch id. Every method is
 * thread-safe. After {@link #close(long)} every call on the producer throws
 * {@link IllegalStateException}; batches submitted before stay readable until released.
 *
 * <p>Native log events go to the log4j2 loggers {@value #LOGGER_NAME} (the engine) and
 * {@value #SDK_LOGGER_NAME} (AWS SDK, HTTP, TLS), when log4j2 is on the class path. Their levels
 * are read from log4j2 at most every few seconds; nothing is formatted for disabled levels.
 */
public final class NativeProducer implements AutoCloseable {
    /** log4j2 logger of the engine's events. */
    public static final String LOGGER_NAME = "kinesis.producer";
    /** log4j2 logger of the AWS SDK's, HTTP and TLS events. */
    public static final String SDK_LOGGER_NAME = "kinesis.producer.sdk";
    /** Deadline of {@link #close()}, in milliseconds. */
    public static final long DEFAULT_CLOSE_TIMEOUT_MILLIS = 30_000;
    /** Longest single native wait, so that waiting threads notice interrupts. */
    private static final long WAIT_SLICE_MILLIS = 100;

    private static volatile String loadedFrom;

    private final long handle;

    /**
     * Loads the native library from an absolute path (for example the gem's own vendor directory).
     * Loading again from the same path does nothing; from another path it throws.
     */
    public static synchronized void load(String absoluteLibraryPath) {
        Objects.requireNonNull(absoluteLibraryPath, "absoluteLibraryPath");
        File library = new File(absoluteLibraryPath);
        if (!library.isAbsolute()) {
            throw new IllegalArgumentException("library path must be absolute: " + absoluteLibraryPath);
        }
        String path = library.getAbsolutePath();
        if (loadedFrom != null) {
            if (loadedFrom.equals(path)) {
                return;
            }
            throw new IllegalStateException("native library already loaded from " + loadedFrom);
        }
        // Must run in this class: the library binds to the class loader of the caller of System.load.
        System.load(path);
        loadedFrom = path;
    }

    /**
     * Creates a producer and starts its threads.
     *
     * @param configJson a JSON object of engine options, e.g. {@code {"region":"eu-west-1"}}
     * @throws IllegalArgumentException if the configuration is invalid
     * @throws IllegalStateException if {@link #load(String)} was not called
     */
    public NativeProducer(String configJson) {
        if (loadedFrom == null) {
            throw new IllegalStateException("call NativeProducer.load(absoluteLibraryPath) first");
        }
        this.handle = nativeCreate(configJson);
    }

    /**
     * Submits one batch of records in a single native call.
     *
     * <p>Record {@code i} goes to {@code streams[streamIndex[i]]} ({@code streamIndex} may be null
     * when exactly one stream is given), has the partition key made of the next
     * {@code keyLengths[i]} bytes of {@code keys} (UTF-8), the explicit hash key
     * {@code explicitHashKeys[i]} (the array or its entries may be null) and the payload made of
     * the next {@code payloadLengths[i]} bytes of {@code payloads}. Byte arrays may be longer
     * than their lengths add up to. Invalid records (bad UTF-8, empty or long keys, bad hash
     * keys, oversized records) fail alone: see their outcomes.
     *
     * @param timeoutMillis how long to wait while the producer is full
     * @return the batch id (positive), or -1 if the producer stayed full for the whole timeout
     * @throws IllegalArgumentException if the arrays do not fit together
     * @throws IllegalStateException if the producer is closed
     */
    public long submit(String[] streams, int[] streamIndex, byte[] keys, int[] keyLengths,
            String[] explicitHashKeys, byte[] payloads, int[] payloadLengths, long timeoutMillis) {
        return nativeSubmit(handle, streams, streamIndex, keys, keyLengths, explicitHashKeys, payloads,
                payloadLengths, timeoutMillis);
    }

    /**
     * Waits until every record of the batch has an outcome, up to {@code timeoutMillis}. Holds no
     * lock while waiting; {@link #close(long)} completes every batch by its deadline.
     *
     * @return true when the batch is complete
     * @throws InterruptedException if the thread is interrupted while waiting
     * @throws IllegalStateException if the batch is unknown or released
     */
    public boolean await(long batch, long timeoutMillis) throws InterruptedException {
        if (timeoutMillis < 0) {
            throw new IllegalArgumentException("timeoutMillis must not be negative (got " + timeoutMillis + ")");
        }
        long started = System.nanoTime();
        while (true) {
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
            // Elapsed time, not a deadline: no overflow for timeouts up to Long.MAX_VALUE.
            long left = timeoutMillis - (System.nanoTime() - started) / 1_000_000L;
            if (nativeAwait(batch, Math.max(0, Math.min(left, WAIT_SLICE_MILLIS)))) {
                return true;
            }
            if (left <= 0) {
                return false;
            }
        }
    }

    /** The outcomes of a complete batch, or null while some record has none yet. Never blocks. */
    public BatchOutcomes outcomes(long batch) {
        return nativeOutcomes(batch);
    }

    /** Waits up to {@code timeoutMillis}, then returns the outcomes, or null if still incomplete. */
    public BatchOutcomes awaitOutcomes(long batch, long timeoutMillis) throws InterruptedException {
        return await(batch, timeoutMillis) ? outcomes(batch) : null;
    }

    /** Forgets a batch; its id becomes invalid. Every batch must be released once. */
    public void release(long batch) {
        nativeRelease(batch);
    }

    /** Sends what is buffered for {@code stream} (or for every stream, when null) now. */
    public void flush(String stream) {
        nativeFlush(handle, stream);
    }

    /**
     * Counts the open shards of {@code stream} (a name or an ARN) with one ListShards walk.
     *
     * @throws RuntimeException when the service does not answer within {@code timeoutMillis}
     *     or refuses (the message says why)
     */
    public long openShardCount(String stream, long timeoutMillis) {
        return nativeOpenShardCount(handle, stream, timeoutMillis);
    }

    /** Records submitted and still without an outcome. */
    public long outstandingRecords() {
        return nativeOutstandingRecords(handle);
    }

    /** Bytes (data plus partition keys) of the records still without an outcome. */
    public long outstandingBytes() {
        return nativeOutstandingBytes(handle);
    }

    /** Age in milliseconds of the oldest record still without an outcome, or -1 if none. */
    public long oldestPendingAgeMillis() {
        return nativeOldestPendingAgeMillis(handle);
    }

    /**
     * Totals of the engine's counters since start, as a JSON array of objects with keys
     * {@code metric, unit, stream, shard, error_code, sum, min, max, count}.
     */
    public String metricsJson() {
        return nativeMetricsJson(handle);
    }

    /**
     * Stops taking records, sends what is buffered and waits up to {@code timeoutMillis} for the
     * outcomes; records still without one then fail with {@code ProducerClosed}. Every native
     * thread is stopped when this returns.
     *
     * @return the number of records failed because the deadline came first
     * @throws IllegalStateException if the producer is already closed
     */
    public long close(long timeoutMillis) {
        return nativeClose(handle, timeoutMillis);
    }

    /** {@link #close(long)} with {@link #DEFAULT_CLOSE_TIMEOUT_MILLIS}. */
    @Override
    public void close() {
        close(DEFAULT_CLOSE_TIMEOUT_MILLIS);
    }

    /** Reads the log4j2 levels of the native loggers now instead of within a few seconds. */
    public static void refreshLogLevels() {
        nativeRefreshLogLevels();
    }

    /** Panics in native code; proves that a panic reaches Java as an exception. For tests. */
    static void panicForTests(String message) {
        nativePanic(message);
    }

    private static native long nativeCreate(String configJson);

    private static native long nativeSubmit(long handle, String[] streams, int[] streamIndex, byte[] keys,
            int[] keyLengths, String[] explicitHashKeys, byte[] payloads, int[] payloadLengths, long timeoutMillis);

    private static native boolean nativeAwait(long batch, long timeoutMillis);

    private static native BatchOutcomes nativeOutcomes(long batch);

    private static native void nativeRelease(long batch);

    private static native void nativeFlush(long handle, String stream);

    private static native long nativeOpenShardCount(long handle, String stream, long timeoutMillis);

    private static native long nativeOutstandingRecords(long handle);

    private static native long nativeOutstandingBytes(long handle);

    private static native long nativeOldestPendingAgeMillis(long handle);

    private static native String nativeMetricsJson(long handle);

    private static native long nativeClose(long handle, long timeoutMillis);

    private static native void nativeRefreshLogLevels();

    private static native void nativePanic(String message);
}
