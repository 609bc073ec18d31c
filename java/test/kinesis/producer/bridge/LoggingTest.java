package kinesis.producer.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Native log events reach the log4j2 loggers configured by java/test-resources/log4j2-bridge-test.properties. */
@Timeout(60)
class LoggingTest {
    private static final File LOG = new File(Fixtures.logDir(), "native.log");
    private static final CallRecorder CALLS = new CallRecorder();

    @BeforeAll
    static void loadLibraryAndRecordLogCalls() {
        Fixtures.loadLibrary();
        LoggerContext context = (LoggerContext) LogManager.getContext(false);
        CALLS.start();
        context.getConfiguration().addFilter(CALLS);
        context.updateLoggers();
    }

    @AfterAll
    static void stopRecording() {
        LoggerContext context = (LoggerContext) LogManager.getContext(false);
        context.getConfiguration().removeFilter(CALLS);
        context.updateLoggers();
    }

    @AfterEach
    void restoreConfiguredLevels() {
        Configurator.setLevel(NativeProducer.LOGGER_NAME, Level.INFO);
        Configurator.setLevel(NativeProducer.SDK_LOGGER_NAME, Level.OFF);
        NativeProducer.refreshLogLevels();
    }

    private static List<String> lines(Predicate<String> wanted) throws IOException {
        if (!LOG.exists()) {
            return List.of();
        }
        return Files.readAllLines(LOG.toPath(), StandardCharsets.UTF_8).stream().filter(wanted).collect(Collectors.toList());
    }

    private static String awaitLine(Predicate<String> wanted, String what) throws Exception {
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (System.nanoTime() < deadline) {
            List<String> found = lines(wanted);
            if (!found.isEmpty()) {
                return found.get(0);
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no log line " + what + " in " + LOG + ":\n" + String.join("\n", lines(line -> true)));
    }

    private static void roundTrip(NativeProducer producer, String stream) throws Exception {
        long batch = new Records().add(stream, "k", null, "logged").submit(producer, 5_000);
        BatchOutcomes outcomes = producer.awaitOutcomes(batch, 20_000);
        assertNotNull(outcomes);
        producer.release(batch);
    }

    @Test
    void eventsFromJavaAndNativeThreadsReachTheirLogger() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1")) {
            NativeProducer producer = new NativeProducer(Fixtures.config(server, "\"record_ttl\":1000"));
            String caller = Thread.currentThread().getName();
            awaitLine(line -> line.startsWith("INFO kinesis.producer [" + caller + "] producer created producer="),
                    "from the calling thread");
            // The stream does not exist: a worker thread warns that it cannot list its shards.
            roundTrip(producer, "no-such-stream");
            String warning = awaitLine(line -> line.contains("cannot list shards"), "from a worker thread");
            assertTrue(warning.matches("WARN kinesis\\.producer \\[kinesis-producer-\\d+-\\d+\\] .*stream=no-such-stream.*"),
                    warning);
            producer.close(5_000);
            awaitLine(line -> line.startsWith("INFO kinesis.producer [" + caller + "] producer closed"), "at close");
        }
    }

    @Test
    void levelsFollowLog4jAndDisabledLevelsAreNotSent() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:1")) {
            Predicate<String> shardMapListed = line -> line.startsWith("DEBUG kinesis.producer [") && line.contains("shard map listed");
            Predicate<String> sdkLine = line -> line.contains(" kinesis.producer.sdk [");
            CALLS.reset();
            try (NativeProducer producer = new NativeProducer(Fixtures.config(server, ""))) {
                roundTrip(producer, "s");
            }
            assertTrue(lines(shardMapListed).isEmpty(), "DEBUG event logged at INFO");
            assertTrue(lines(sdkLine).isEmpty(), "SDK event logged while its logger is off");
            // Disabled events are not even handed to log4j2.
            assertTrue(CALLS.count(NativeProducer.LOGGER_NAME, Level.INFO) >= 2, "INFO events were not sent");
            assertEquals(0, CALLS.count(NativeProducer.LOGGER_NAME, Level.DEBUG), "DEBUG events sent at INFO");
            assertEquals(0, CALLS.count(NativeProducer.LOGGER_NAME, Level.TRACE), "TRACE events sent at INFO");
            assertEquals(0, CALLS.count(NativeProducer.SDK_LOGGER_NAME, Level.DEBUG), "SDK events sent while off");
            assertEquals(0, CALLS.count(NativeProducer.SDK_LOGGER_NAME, Level.INFO), "SDK events sent while off");

            Configurator.setLevel(NativeProducer.LOGGER_NAME, Level.DEBUG);
            Configurator.setLevel(NativeProducer.SDK_LOGGER_NAME, Level.DEBUG);
            NativeProducer.refreshLogLevels();
            try (NativeProducer producer = new NativeProducer(Fixtures.config(server, ""))) {
                roundTrip(producer, "s");
            }
            awaitLine(shardMapListed, "at DEBUG");
            String sdk = awaitLine(sdkLine, "of the SDK logger at DEBUG");
            assertTrue(sdk.matches("DEBUG kinesis\\.producer\\.sdk \\[[^\\]]+\\] [a-z_0-9]+(::[a-z_0-9]+)*: .*"), sdk);

            Configurator.setLevel(NativeProducer.LOGGER_NAME, Level.WARN);
            Configurator.setLevel(NativeProducer.SDK_LOGGER_NAME, Level.OFF);
            NativeProducer.refreshLogLevels();
            int created = lines(line -> line.contains("producer created")).size();
            int sdkLines = lines(sdkLine).size();
            CALLS.reset();
            try (NativeProducer producer = new NativeProducer(Fixtures.config(server, ""))) {
                roundTrip(producer, "s");
            }
            Thread.sleep(200);
            assertFalse(lines(line -> line.contains("producer created")).size() > created, "INFO event logged at WARN");
            assertFalse(lines(sdkLine).size() > sdkLines, "SDK event logged after its logger was turned off");
            assertEquals(0, CALLS.count(NativeProducer.LOGGER_NAME, Level.INFO), "INFO events sent at WARN");
            assertEquals(0, CALLS.count(NativeProducer.SDK_LOGGER_NAME, Level.DEBUG), "SDK events sent while off");
        }
    }
}
