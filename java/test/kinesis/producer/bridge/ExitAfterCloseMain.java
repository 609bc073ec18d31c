package kinesis.producer.bridge;

import java.io.File;
import java.io.IOException;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Run in a child JVM by {@link ProcessExitTest}: sends a batch, closes the producer and returns
 * from main without System.exit, printing the producer threads before and after close.
 */
public final class ExitAfterCloseMain {
    private ExitAfterCloseMain() {
    }

    public static void main(String[] args) throws Exception {
        NativeProducer.load(args[0]);
        NativeProducer producer = new NativeProducer("{\"region\":\"us-east-1\",\"kinesis_endpoint\":\"" + args[1]
                + "\",\"access_key\":\"AKIDTEST\",\"secret_key\":\"test-secret\",\"metrics_level\":\"none\"}");
        Records records = new Records();
        for (int i = 0; i < 100; i++) {
            records.add("s", "key-" + i, null, "payload-" + i);
        }
        long batch = records.submit(producer, 5_000);
        BatchOutcomes outcomes = producer.awaitOutcomes(batch, 20_000);
        System.out.println("delivered: " + (outcomes != null && outcomes.allDelivered()));
        System.out.println("java threads while open: " + javaThreads());
        System.out.println("native threads while open: " + nativeThreads());
        producer.release(batch);
        producer.close(5_000);
        System.out.println("java threads after close: " + javaThreads());
        System.out.println("native threads after close: " + nativeThreads());
    }

    /** Names of the Java threads of the producer (attached native threads). */
    private static List<String> javaThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .map(Thread::getName)
                .filter(name -> name.startsWith("kinesis-producer"))
                .sorted()
                .collect(Collectors.toList());
    }

    /** Operating-system threads of this process named after the producer (attached or not). */
    private static long nativeThreads() throws Exception {
        File[] tasks = new File("/proc/self/task").listFiles();
        long count = 0;
        for (File task : tasks) {
            String name;
            try {
                name = new String(java.nio.file.Files.readAllBytes(new File(task, "comm").toPath())).trim();
            } catch (IOException threadEnded) {
                continue; // the thread ended between the listing and the read
            }
            if (name.startsWith("kinesis-produc")) {
                count++;
            }
        }
        return count;
    }
}
