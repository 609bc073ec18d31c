package kinesis.producer.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A JVM that closed its producer exits on its own: no native thread is left running or attached. */
@Timeout(90)
class ProcessExitTest {
    @Test
    void jvmExitsOnItsOwnAfterClose() throws Exception {
        try (TestServer server = new TestServer("--stream", "s:2")) {
            File output = File.createTempFile("exit-after-close", ".log");
            String java = new File(System.getProperty("java.home"), "bin/java").getPath();
            Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    ExitAfterCloseMain.class.getName(),
                    new File(Fixtures.property("kinesis.bridge.library")).getAbsolutePath(), server.endpoint())
                    .redirectErrorStream(true)
                    .redirectOutput(output)
                    .start();
            boolean exited = child.waitFor(60, TimeUnit.SECONDS);
            String text = new String(Files.readAllBytes(output.toPath()), StandardCharsets.UTF_8);
            if (!exited) {
                child.destroyForcibly();
            }
            output.delete();
            assertTrue(exited, "the JVM did not exit after close:\n" + text);
            assertEquals(0, child.exitValue(), text);
            assertTrue(text.contains("delivered: true"), text);
            Matcher open = Pattern.compile("java threads while open: \\[(kinesis-producer-\\d+-\\d+(, )?)+\\]").matcher(text);
            assertTrue(open.find(), "attached threads are not named kinesis-producer-<producer>-<n>:\n" + text);
            Matcher openNative = Pattern.compile("native threads while open: (\\d+)").matcher(text);
            assertTrue(openNative.find() && Integer.parseInt(openNative.group(1)) > 0, text);
            assertTrue(text.contains("java threads after close: []"), text);
            assertTrue(text.contains("native threads after close: 0"), text);
        }
    }
}
