import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import kinesis.producer.bridge.BatchOutcomes;
import kinesis.producer.bridge.NativeProducer;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.kinesis.producer.KinesisProducer;
import software.amazon.kinesis.producer.KinesisProducerConfiguration;
import software.amazon.kinesis.producer.UserRecordResult;

/**
 * Sends the same workload through the real KPL (addUserRecord) or through this project's producer
 * (the JNI bridge, in batches of 500 as the plugin submits them) into the Kinesis test server over
 * TLS, and prints one line: {@code RESULT {"producer":...,"records_per_sec":...,...}}. The producer
 * {@code none} only generates the records: the driver's own cost and memory, the baseline.
 *
 * <p>CPU and peak RSS are read from /proc for this JVM and every process it started (the KPL
 * daemon), so both producers are measured as a whole. Run by benches/kpl-compare.sh.
 *
 * <pre>
 * java -cp ... ProducerComparison kpl|native|none PORT STREAM RECORDS SIZE [LIBRARY]
 * </pre>
 */
public final class ProducerComparison {
    /** Records without an outcome the driver allows, for both producers (default: the engine's bound). */
    private static final int MAX_OUTSTANDING = Integer.getInteger("bench.outstanding", 100_000);
    private static final int BATCH = 500;

    private ProducerComparison() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 5) {
            System.err.println("usage: ProducerComparison kpl|native|none PORT STREAM RECORDS SIZE [LIBRARY]");
            System.exit(2);
        }
        String producer = args[0];
        int port = Integer.parseInt(args[1]);
        String stream = args[2];
        int records = Integer.parseInt(args[3]);
        int size = Integer.parseInt(args[4]);
        byte[] payload = new byte[size];
        java.util.Arrays.fill(payload, (byte) 'x');

        Sender sender;
        if (producer.equals("kpl")) {
            sender = new KplSender(port, stream, payload);
        } else if (producer.equals("native")) {
            sender = new NativeSender(port, stream, payload, args[5]);
        } else if (producer.equals("none")) {
            sender = new NullSender(payload);
        } else {
            throw new IllegalArgumentException("producer must be kpl, native or none, not " + producer);
        }
        // A short warm-up so both start measured with connections open and the JIT busy on the same code.
        sender.send(Math.min(records / 10, 50_000));
        long cpuBefore = cpuTicks();
        long started = System.nanoTime();
        sender.send(records);
        double seconds = (System.nanoTime() - started) / 1e9;
        double cpu = (cpuTicks() - cpuBefore) / 100.0;
        List<Long> processes = processIds();
        double peakRss = peakRssKib(processes) / 1024.0;
        double jvmPeakRss = peakRssKib(processes.subList(0, 1)) / 1024.0;
        sender.close();
        System.out.printf(Locale.ROOT,
                "RESULT {\"producer\":\"%s\",\"records\":%d,\"size\":%d,\"records_per_sec\":%.0f,"
                        + "\"cpu_s_per_million\":%.3f,\"peak_rss_mib\":%.1f,\"jvm_peak_rss_mib\":%.1f,"
                        + "\"processes\":%d,\"max_outstanding\":%d}%n",
                producer, records, size, records / seconds, cpu / (records / 1e6), peakRss, jvmPeakRss,
                processes.size(), MAX_OUTSTANDING);
    }

    /** Sends N records and returns when each has its outcome; fails if any was not delivered. */
    interface Sender {
        void send(int records) throws Exception;

        void close() throws Exception;
    }

    /** Random 16-hex-digit partition keys, the same sequence for both producers. */
    static final class Keys {
        private static final char[] HEX = "0123456789abcdef".toCharArray();
        private final char[] digits = new char[16];
        private long seed = 0x2545_f491_4f6c_dd1dL;

        String next() {
            seed ^= seed << 13;
            seed ^= seed >>> 7;
            seed ^= seed << 17;
            for (int i = 0; i < 16; i++) {
                digits[i] = HEX[(int) (seed >>> (60 - 4 * i)) & 0xf];
            }
            return new String(digits);
        }
    }

    static final class KplSender implements Sender {
        private final KinesisProducer kpl;
        private final String stream;
        private final byte[] payload;
        private final Keys keys = new Keys();
        private final AtomicLong done = new AtomicLong();
        private final AtomicLong failed = new AtomicLong();
        private final FutureCallback<UserRecordResult> callback = new FutureCallback<UserRecordResult>() {
            @Override
            public void onSuccess(UserRecordResult result) {
                if (!result.isSuccessful()) {
                    failed.incrementAndGet();
                }
                done.incrementAndGet();
            }

            @Override
            public void onFailure(Throwable t) {
                failed.incrementAndGet();
                done.incrementAndGet();
            }
        };

        KplSender(int port, String stream, byte[] payload) {
            KinesisProducerConfiguration config = new KinesisProducerConfiguration()
                    .setRegion("us-east-1")
                    .setCredentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("bench", "bench")))
                    .setKinesisEndpoint("127.0.0.1")
                    .setKinesisPort(port)
                    .setVerifyCertificate(false)
                    .setMetricsLevel("none")
                    .setLogLevel("warning")
                    .setAggregationEnabled(true);
            this.kpl = new KinesisProducer(config);
            this.stream = stream;
            this.payload = payload;
        }

        @Override
        public void send(int records) throws Exception {
            long target = done.get() + records;
            for (int i = 0; i < records; i++) {
                while (kpl.getOutstandingRecordsCount() >= MAX_OUTSTANDING) {
                    Thread.sleep(1);
                }
                Futures.addCallback(kpl.addUserRecord(stream, keys.next(), ByteBuffer.wrap(payload)), callback,
                        MoreExecutors.directExecutor());
            }
            kpl.flush();
            while (done.get() < target) {
                Thread.sleep(1);
            }
            if (failed.get() > 0) {
                throw new IllegalStateException(failed.get() + " records failed");
            }
        }

        @Override
        public void close() {
            kpl.destroy();
        }
    }

    static final class NativeSender implements Sender {
        private final NativeProducer producer;
        private final String[] streams;
        private final byte[] payloads;
        private final int[] payloadLengths = new int[BATCH];
        private final Keys keys = new Keys();

        NativeSender(int port, String stream, byte[] payload, String library) {
            NativeProducer.load(new File(library).getAbsolutePath());
            this.producer = new NativeProducer("{\"region\":\"us-east-1\",\"access_key\":\"bench\",\"secret_key\":\"bench\","
                    + "\"kinesis_endpoint\":\"https://127.0.0.1:" + port + "\",\"verify_certificate\":false,"
                    + "\"metrics_level\":\"none\",\"max_pending_records\":" + MAX_OUTSTANDING + "}");
            this.streams = new String[] {stream};
            this.payloads = new byte[BATCH * payload.length];
            for (int i = 0; i < BATCH; i++) {
                System.arraycopy(payload, 0, payloads, i * payload.length, payload.length);
                payloadLengths[i] = payload.length;
            }
        }

        @Override
        public void send(int records) throws Exception {
            ArrayDeque<Long> inFlight = new ArrayDeque<>();
            int sent = 0;
            while (sent < records) {
                int n = Math.min(BATCH, records - sent);
                byte[] keyBytes = new byte[n * 16];
                int[] keyLengths = new int[n];
                for (int i = 0; i < n; i++) {
                    System.arraycopy(keys.next().getBytes(StandardCharsets.US_ASCII), 0, keyBytes, i * 16, 16);
                    keyLengths[i] = 16;
                }
                int[] lengths = n == BATCH ? payloadLengths : java.util.Arrays.copyOf(payloadLengths, n);
                long batch = producer.submit(streams, null, keyBytes, keyLengths, null, payloads, lengths, 600_000);
                if (batch < 0) {
                    throw new IllegalStateException("producer full for 600 s");
                }
                inFlight.add(batch);
                sent += n;
                // Keep the outcomes of about MAX_OUTSTANDING records unread, as the KPL driver does.
                while ((long) inFlight.size() * BATCH > MAX_OUTSTANDING) {
                    finish(inFlight.poll());
                }
            }
            while (!inFlight.isEmpty()) {
                finish(inFlight.poll());
            }
        }

        private void finish(long batch) throws InterruptedException {
            BatchOutcomes outcomes = producer.awaitOutcomes(batch, 600_000);
            if (outcomes == null || !outcomes.allDelivered()) {
                throw new IllegalStateException("batch " + batch + " not delivered: " + outcomes);
            }
            producer.release(batch);
        }

        @Override
        public void close() {
            producer.close(30_000);
        }
    }

    /** Generates the records and drops them. */
    static final class NullSender implements Sender {
        private final Keys keys = new Keys();
        private final byte[] payload;
        private long sink;

        NullSender(byte[] payload) {
            this.payload = payload;
        }

        @Override
        public void send(int records) {
            for (int i = 0; i < records; i++) {
                ByteBuffer data = ByteBuffer.wrap(payload);
                sink += keys.next().hashCode() + data.remaining();
            }
        }

        @Override
        public void close() {
            System.err.println("checksum " + sink);
        }
    }

    /** This JVM and every process it started (the KPL daemon). */
    static List<Long> processIds() {
        List<Long> ids = new ArrayList<>();
        ids.add(ProcessHandle.current().pid());
        ProcessHandle.current().descendants().forEach(p -> ids.add(p.pid()));
        return ids;
    }

    /** User + system CPU of this JVM and its child processes, in clock ticks (1/100 s). */
    static long cpuTicks() throws IOException {
        long ticks = 0;
        for (long pid : processIds()) {
            String stat = readProc(pid, "stat");
            if (stat == null) {
                continue;
            }
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // After the command name: utime and stime are the 12th and 13th fields.
            ticks += Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
        }
        return ticks;
    }

    /** Sum of the peak resident set sizes (VmHWM) of the processes, in KiB. */
    static long peakRssKib(List<Long> pids) throws IOException {
        long kib = 0;
        for (long pid : pids) {
            String status = readProc(pid, "status");
            if (status == null) {
                continue;
            }
            for (String line : status.split("\n")) {
                if (line.startsWith("VmHWM:")) {
                    kib += Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        }
        return kib;
    }

    private static String readProc(long pid, String file) throws IOException {
        try {
            return new String(Files.readAllBytes(Paths.get("/proc/" + pid + "/" + file)), StandardCharsets.US_ASCII);
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        }
    }
}
