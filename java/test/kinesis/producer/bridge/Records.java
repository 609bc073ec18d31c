package kinesis.producer.bridge;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Packs records into the arrays {@link NativeProducer#submit} takes. */
final class Records {
    private final List<String> streams = new ArrayList<>();
    private final List<Integer> streamIndex = new ArrayList<>();
    private final ByteArrayOutputStream keys = new ByteArrayOutputStream();
    private final List<Integer> keyLengths = new ArrayList<>();
    private final List<String> hashKeys = new ArrayList<>();
    private final ByteArrayOutputStream payloads = new ByteArrayOutputStream();
    private final List<Integer> payloadLengths = new ArrayList<>();
    private boolean anyHashKey;

    Records add(String stream, String key, String hashKey, String payload) {
        return add(stream, key.getBytes(StandardCharsets.UTF_8), hashKey, payload.getBytes(StandardCharsets.UTF_8));
    }

    Records add(String stream, byte[] key, String hashKey, byte[] payload) {
        int index = streams.indexOf(stream);
        if (index < 0) {
            index = streams.size();
            streams.add(stream);
        }
        streamIndex.add(index);
        keys.write(key, 0, key.length);
        keyLengths.add(key.length);
        hashKeys.add(hashKey);
        anyHashKey |= hashKey != null;
        payloads.write(payload, 0, payload.length);
        payloadLengths.add(payload.length);
        return this;
    }

    int size() {
        return payloadLengths.size();
    }

    long submit(NativeProducer producer, long timeoutMillis) {
        return producer.submit(streams.toArray(new String[0]), ints(streamIndex), keys.toByteArray(), ints(keyLengths),
                anyHashKey ? hashKeys.toArray(new String[0]) : null, payloads.toByteArray(), ints(payloadLengths),
                timeoutMillis);
    }

    static int[] ints(List<Integer> values) {
        int[] array = new int[values.size()];
        for (int i = 0; i < array.length; i++) {
            array[i] = values.get(i);
        }
        return array;
    }
}
