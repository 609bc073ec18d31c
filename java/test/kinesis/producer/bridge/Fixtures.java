package kinesis.producer.bridge;

import java.io.File;

/** Paths handed over by the build, and producer configurations for the tests. */
final class Fixtures {
    private Fixtures() {
    }

    static String property(String name) {
        String value = System.getProperty(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException("system property " + name + " is not set (run the tests through gradle)");
        }
        return value;
    }

    /** Loads the native library built by cargo. */
    static void loadLibrary() {
        NativeProducer.load(new File(property("kinesis.bridge.library")).getAbsolutePath());
    }

    /** Directory the log4j2 test configuration writes to. */
    static File logDir() {
        return new File(property("kinesis.test.logDir"));
    }

    /** A producer configuration for a test server, plus extra JSON members (may be empty). */
    static String config(TestServer server, String extra) {
        return "{\"region\":\"us-east-1\",\"kinesis_endpoint\":\"" + server.endpoint() + "\","
                + "\"access_key\":\"AKIDTEST\",\"secret_key\":\"test-secret\","
                + "\"metrics_level\":\"none\",\"record_max_buffered_time\":20"
                + (extra.isEmpty() ? "" : "," + extra) + "}";
    }
}
