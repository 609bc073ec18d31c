package kinesis.producer.bridge;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The Kinesis test server as a child process on 127.0.0.1, stopped by its PID. */
final class TestServer implements AutoCloseable {
    private final Process process;
    private final int port;
    private final File directory;

    /** Starts a server with these extra flags, e.g. {@code "--stream", "s:2", "--hang", "1"}. */
    TestServer(String... flags) throws IOException, InterruptedException {
        directory = Files.createTempDirectory("kinesis-test-server").toFile();
        File portFile = new File(directory, "port");
        List<String> command = new ArrayList<>();
        command.add(Fixtures.property("kinesis.test.server"));
        command.addAll(Arrays.asList("--port", "0", "--port-file", portFile.getPath()));
        command.addAll(Arrays.asList(flags));
        process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(new File(directory, "output.log"))
                .start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!portFile.exists()) {
            if (!process.isAlive()) {
                throw new IOException("test server exited: " + output());
            }
            if (System.nanoTime() > deadline) {
                process.destroyForcibly();
                throw new IOException("test server did not write its port file: " + output());
            }
            Thread.sleep(20);
        }
        port = Integer.parseInt(new String(Files.readAllBytes(portFile.toPath()), StandardCharsets.UTF_8).trim());
    }

    String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    /** The server's counters, as the JSON text of {@code GET /_control/stats}. */
    String stats() throws IOException {
        java.net.HttpURLConnection connection =
                (java.net.HttpURLConnection) new java.net.URL(endpoint() + "/_control/stats").openConnection();
        try (java.io.InputStream body = connection.getInputStream()) {
            return new String(body.readAllBytes(), StandardCharsets.UTF_8);
        } finally {
            connection.disconnect();
        }
    }

    private String output() {
        try {
            return new String(Files.readAllBytes(new File(directory, "output.log").toPath()), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no output: " + e + ")";
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        for (File file : directory.listFiles()) {
            file.delete();
        }
        directory.delete();
    }
}
